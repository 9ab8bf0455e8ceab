/*
 * floor: the physical floor of a stream server's cost.
 *
 * A sender with no logic at all: it accepts connections on a loopback
 * port, answers each at once with a minimal "HTTP/1.0 200 OK" head, and
 * from then on writes a fixed-size chunk of bytes to each connection every
 * size / rate seconds, so that each receives --bytes-per-second (16,000 by
 * default: 128 kbps).  What this costs in CPU is what the kernel alone
 * costs to move that stream to a loopback socket in sends of that size: a
 * server that writes the same sizes can cost no less.
 *
 * Like radiod's pacer it wakes every --tick seconds (0.1) and serves the
 * connections whose turn has come; the connections' turns are spread
 * evenly over the period, so each tick serves the same share of them.
 * One connection's k-th chunk is due at T0 + (i / N + k) * period, where i
 * is its number and N the connections wanted; a tick that finds a chunk
 * due writes it (a late tick writes every chunk that came due).
 *
 * Its own CPU time (getrusage, user and system apart) is measured over a
 * window: from --window-start (CLOCK_MONOTONIC seconds, as Python's
 * time.monotonic()) for --window seconds, or, without --window-start,
 * from --warmup seconds after the last connection was accepted.  It stays
 * --linger seconds longer so that the reader's window ends first, then
 * closes everything and writes a JSON summary.  On start it prints
 * "port N" on standard output.  Readers are anything that connects: the
 * swarm (benchmarks/swarm.c) is the one benchmarks/floor.py uses.
 *
 * Build: cc -O2 -o floor floor.c   (benchmarks/floor.py does it).
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char HEAD[] = "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n";

struct connection {
    int fd;
    double due;
    double opened, closed;
};

struct options {
    int port;
    long connections;
    long size;
    double bytes_per_second;
    double tick;
    long send_buffer;
    double window_start, window, warmup, linger;
    double accept_timeout;
    const char *json;
};

static double monotonic(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double seconds(struct timeval t)
{
    return (double)t.tv_sec + (double)t.tv_usec * 1e-6;
}

static void die(const char *what)
{
    fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
    exit(2);
}

static double number_argument(const char *name, const char *text)
{
    char *end;
    errno = 0;
    double value = strtod(text, &end);
    if (errno || end == text || *end) {
        fprintf(stderr, "floor: %s: not a number: %s\n", name, text);
        exit(2);
    }
    return value;
}

static const char USAGE[] =
    "usage: floor [options]\n"
    "\n"
    "Accept loopback connections and write each a fixed-size chunk every\n"
    "size / rate seconds, measuring the sender's own CPU over a window.\n"
    "\n"
    "  --port PORT               port on 127.0.0.1 (default 0: any; printed)\n"
    "  --connections N           connections expected (default 8000)\n"
    "  --size BYTES              bytes per send (default 8000)\n"
    "  --bytes-per-second B      each connection's rate (default 16000)\n"
    "  --tick S                  seconds between wake-ups (default 0.1)\n"
    "  --send-buffer BYTES       SO_SNDBUF of each socket, 0: the kernel's (65536)\n"
    "  --window-start T          window start, CLOCK_MONOTONIC seconds\n"
    "  --warmup S                without --window-start: seconds after the last\n"
    "                            connection before the window (default 5)\n"
    "  --window S                seconds measured (default 30)\n"
    "  --linger S                seconds after the window before closing (default 1)\n"
    "  --accept-timeout S        give up waiting for connections (default 120)\n"
    "  --json FILE               write the summary here (default: standard output)\n";

static void parse_options(struct options *o, int argc, char **argv)
{
    enum { PORT = 256, CONNECTIONS, SIZE, RATE, TICK, SNDBUF, WSTART, WARMUP, WINDOW, LINGER,
           ACCEPT, JSON };
    static const struct option long_options[] = {
        {"port", required_argument, 0, PORT},
        {"connections", required_argument, 0, CONNECTIONS},
        {"size", required_argument, 0, SIZE},
        {"bytes-per-second", required_argument, 0, RATE},
        {"tick", required_argument, 0, TICK},
        {"send-buffer", required_argument, 0, SNDBUF},
        {"window-start", required_argument, 0, WSTART},
        {"warmup", required_argument, 0, WARMUP},
        {"window", required_argument, 0, WINDOW},
        {"linger", required_argument, 0, LINGER},
        {"accept-timeout", required_argument, 0, ACCEPT},
        {"json", required_argument, 0, JSON},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    *o = (struct options){
        .connections = 8000, .size = 8000, .bytes_per_second = 16000.0, .tick = 0.1,
        .send_buffer = 65536, .warmup = 5.0, .window = 30.0, .linger = 1.0,
        .accept_timeout = 120.0,
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        switch (c) {
        case PORT: o->port = (int)number_argument("--port", optarg); break;
        case CONNECTIONS: o->connections = (long)number_argument("--connections", optarg); break;
        case SIZE: o->size = (long)number_argument("--size", optarg); break;
        case RATE: o->bytes_per_second = number_argument("--bytes-per-second", optarg); break;
        case TICK: o->tick = number_argument("--tick", optarg); break;
        case SNDBUF: o->send_buffer = (long)number_argument("--send-buffer", optarg); break;
        case WSTART: o->window_start = number_argument("--window-start", optarg); break;
        case WARMUP: o->warmup = number_argument("--warmup", optarg); break;
        case WINDOW: o->window = number_argument("--window", optarg); break;
        case LINGER: o->linger = number_argument("--linger", optarg); break;
        case ACCEPT: o->accept_timeout = number_argument("--accept-timeout", optarg); break;
        case JSON: o->json = optarg; break;
        case 'h': fputs(USAGE, stdout); exit(0);
        default: fputs(USAGE, stderr); exit(2);
        }
    }
    if (o->connections < 1 || o->size < 1 || o->bytes_per_second <= 0 || o->tick <= 0 ||
        o->window <= 0) {
        fputs("floor: --connections, --size, --bytes-per-second, --tick and --window must be "
              "positive\n", stderr);
        exit(2);
    }
}

static void raise_fd_limit(long wanted)
{
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    if ((long)limit.rlim_cur >= wanted)
        return;
    struct rlimit raised = {(rlim_t)wanted,
                            limit.rlim_max > (rlim_t)wanted ? limit.rlim_max : (rlim_t)wanted};
    if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
        raised.rlim_cur = raised.rlim_max = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &raised);
    }
}

struct usage {
    double wall, user, system;
};

static struct usage now_usage(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (struct usage){monotonic(), seconds(r.ru_utime), seconds(r.ru_stime)};
}

int main(int argc, char **argv)
{
    struct options o;
    parse_options(&o, argc, argv);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit(o.connections + 64);

    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listener < 0)
        die("socket");
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0)
        die("bind");
    if (listen(listener, 4096) != 0)
        die("listen");
    socklen_t length = sizeof address;
    getsockname(listener, (struct sockaddr *)&address, &length);
    printf("port %d\n", ntohs(address.sin_port));
    fflush(stdout);

    int poller = epoll_create1(EPOLL_CLOEXEC);
    if (poller < 0)
        die("epoll_create1");
    struct epoll_event event = {.events = EPOLLIN};
    epoll_ctl(poller, EPOLL_CTL_ADD, listener, &event);

    struct connection *connections = calloc((size_t)o.connections, sizeof *connections);
    char *chunk = malloc((size_t)o.size);
    if (connections == NULL || chunk == NULL)
        die("malloc");
    memset(chunk, 0x55, (size_t)o.size);
    double period = (double)o.size / o.bytes_per_second;
    double origin = monotonic();
    double first_accept = 0.0, last_accept = 0.0;
    double accept_deadline = origin + o.accept_timeout;
    double window_start = o.window_start, window_end = 0.0, stop_at = 0.0;
    if (window_start > 0) {
        window_end = window_start + o.window;
        stop_at = window_end + o.linger;
    }
    long accepted = 0, lost = 0, window_lost = 0, accept_errors = 0;
    long short_sends = 0, late_ticks = 0;
    long sends = 0, window_sends = 0;
    uint64_t sent = 0, window_bytes = 0;
    double tick_lateness_max = 0.0;
    struct usage at_start = {0}, at_end = {0};
    int measuring = 0, measured = 0;
    double next_tick = origin + o.tick;

    for (;;) {
        double now = monotonic();
        if (stop_at > 0 && now >= stop_at)
            break;
        if (accepted < o.connections && now >= accept_deadline && window_start <= 0) {
            window_start = now + o.warmup;
            window_end = window_start + o.window;
            stop_at = window_end + o.linger;
        }
        if (!measuring && !measured && window_start > 0 && now >= window_start) {
            at_start = now_usage();
            measuring = 1;
        }
        if (measuring && now >= window_end) {
            at_end = now_usage();
            measuring = 0;
            measured = 1;
        }
        if (now >= next_tick) {
            double late = now - next_tick;
            if (late > tick_lateness_max)
                tick_lateness_max = late;
            if (late > o.tick)
                late_ticks++;
            next_tick += o.tick;
            if (next_tick < now)
                next_tick = now + o.tick;
            for (long i = 0; i < accepted; i++) {
                struct connection *c = &connections[i];
                while (c->fd >= 0 && c->due <= now) {
                    ssize_t n = send(c->fd, chunk, (size_t)o.size, MSG_NOSIGNAL | MSG_DONTWAIT);
                    c->due += period;
                    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                        close(c->fd);
                        c->fd = -1;
                        c->closed = now;
                        lost++;
                        if (now < window_end || window_end <= 0)
                            window_lost++;
                        break;
                    }
                    sends++;
                    if (n > 0)
                        sent += (uint64_t)n;
                    if (n != o.size)
                        short_sends++;
                    if (measuring) {
                        window_sends++;
                        if (n > 0)
                            window_bytes += (uint64_t)n;
                    }
                }
            }
        }
        double wake = next_tick;
        if (window_start > 0 && !measuring && !measured && window_start < wake)
            wake = window_start;
        if (measuring && window_end < wake)
            wake = window_end;
        if (stop_at > 0 && stop_at < wake)
            wake = stop_at;
        double wait = wake - monotonic();
        int ms = wait > 0 ? (int)(wait * 1000.0 + 0.999) : 0;
        struct epoll_event ready;
        int events = epoll_wait(poller, &ready, 1, accepted < o.connections ? ms : 0);
        if (events < 0 && errno != EINTR)
            die("epoll_wait");
        if (accepted >= o.connections && ms > 0) {
            struct timespec nap = {ms / 1000, (long)(ms % 1000) * 1000000L};
            nanosleep(&nap, NULL);
        }
        while (events > 0 && accepted < o.connections) {
            int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                    accept_errors++;
                break;
            }
            double at = monotonic();
            if (o.send_buffer > 0) {
                int size = (int)o.send_buffer;
                setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
            }
            send(fd, HEAD, sizeof HEAD - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            struct connection *c = &connections[accepted];
            double phase = origin + period * (double)accepted / (double)o.connections;
            double periods = at > phase ? (double)(long)((at - phase) / period) + 1.0 : 0.0;
            c->fd = fd;
            c->opened = at;
            c->due = phase + periods * period;
            if (!first_accept)
                first_accept = at;
            last_accept = at;
            accepted++;
            if (accepted == o.connections) {
                epoll_ctl(poller, EPOLL_CTL_DEL, listener, NULL);
                if (window_start <= 0) {
                    window_start = at + o.warmup;
                    window_end = window_start + o.window;
                    stop_at = window_end + o.linger;
                }
            }
        }
    }
    if (measuring) {
        at_end = now_usage();
        measured = 1;
    }
    double listener_seconds = 0.0;
    for (long i = 0; i < accepted; i++) {
        struct connection *c = &connections[i];
        double from = c->opened > at_start.wall ? c->opened : at_start.wall;
        double to = c->fd >= 0 ? at_end.wall : (c->closed < at_end.wall ? c->closed : at_end.wall);
        if (to > from)
            listener_seconds += to - from;
        if (c->fd >= 0)
            close(c->fd);
    }

    FILE *out = stdout;
    if (o.json != NULL && (out = fopen(o.json, "w")) == NULL)
        die(o.json);
    double user = at_end.user - at_start.user;
    double system = at_end.system - at_start.system;
    double wall = at_end.wall - at_start.wall;
    double per = listener_seconds > 0 ? 1e6 / listener_seconds : 0.0;
    double per_send = window_sends > 0 ? 1e6 / (double)window_sends : 0.0;
    fprintf(out, "{\n");
    fprintf(out, " \"measured\": %s,\n", measured && wall > 0 ? "true" : "false");
    fprintf(out, " \"connections_wanted\": %ld,\n", o.connections);
    fprintf(out, " \"connections\": %ld,\n", accepted);
    fprintf(out, " \"lost\": %ld,\n \"lost_before_end\": %ld,\n", lost, window_lost);
    fprintf(out, " \"accept_errors\": %ld,\n", accept_errors);
    fprintf(out, " \"size\": %ld,\n \"bytes_per_second\": %.10g,\n", o.size, o.bytes_per_second);
    fprintf(out, " \"period_s\": %.10g,\n \"tick_s\": %.10g,\n", period, o.tick);
    fprintf(out, " \"send_buffer\": %ld,\n", o.send_buffer);
    fprintf(out, " \"accept_span_s\": %.10g,\n", last_accept - first_accept);
    fprintf(out, " \"window_start\": %.10g,\n \"window_s\": %.10g,\n", at_start.wall, wall);
    fprintf(out, " \"sends\": %ld,\n \"bytes\": %llu,\n", sends, (unsigned long long)sent);
    fprintf(out, " \"window_sends\": %ld,\n \"window_bytes\": %llu,\n", window_sends,
            (unsigned long long)window_bytes);
    fprintf(out, " \"short_sends\": %ld,\n \"late_ticks\": %ld,\n", short_sends, late_ticks);
    fprintf(out, " \"tick_lateness_max_s\": %.10g,\n", tick_lateness_max);
    fprintf(out, " \"listener_seconds\": %.10g,\n", listener_seconds);
    fprintf(out, " \"user_s\": %.10g,\n \"system_s\": %.10g,\n", user, system);
    fprintf(out, " \"cpu_share\": %.10g,\n", wall > 0 ? (user + system) / wall : 0.0);
    fprintf(out,
            " \"us_per_listener_s\": {\"user\": %.10g, \"system\": %.10g, \"total\": %.10g},\n",
            user * per, system * per, (user + system) * per);
    fprintf(out, " \"us_per_send\": {\"user\": %.10g, \"system\": %.10g, \"total\": %.10g}\n",
            user * per_send, system * per_send, (user + system) * per_send);
    fprintf(out, "}\n");
    if (fclose(out) != 0)
        die("write");
    return 0;
}
