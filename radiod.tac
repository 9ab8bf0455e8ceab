"""
Run the station with C{twistd -ny radiod.tac}.

It builds the same service as C{twistd radiod}; set options in the
RADIOD_ARGS environment variable (for example C{RADIOD_ARGS="--port 8001
--music /srv/music"}) or in a radiod.toml named by C{--config}.
"""

import os
import shlex

from twisted.application.service import Application

from radiod.station.options import Options
from radiod.tap import makeService

options = Options()
options.parseOptions(shlex.split(os.environ.get("RADIOD_ARGS", "")))
application = Application("radiod")
makeService(options).setServiceParent(application)
