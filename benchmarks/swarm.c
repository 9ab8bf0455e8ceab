/*
 * swarm: many HTTP/ICY stream listeners on loopback, measured over a
 * steady window.
 *
 * The compiled counterpart of benchmarks/loadgen.py: the same options, the
 * same definitions and the same JSON summary (plus a few figures of its
 * own), at a fraction of the CPU, so that on a small machine the server
 * under test keeps the cores it would have alone.  C11, Linux, libc only:
 * epoll, non-blocking sockets, one 64 KiB receive buffer per process.
 *
 * Each listener sends an HTTP/1.0 GET (with Icy-MetaData: 1 when asked),
 * reads the status line and headers ("ICY 200 OK" or "HTTP/1.x 200", with
 * icy-metaint and icy-br), then reads the body in large chunks.  Per
 * listener it records:
 *   - connect time: from connect() to the socket becoming writable;
 *   - time to first byte: from connect() to the first body byte;
 *   - audio bytes: the body less the ICY framing (length bytes and
 *     metadata blocks), followed exactly with icy-metaint;
 *   - framing errors: metadata blocks (length byte above zero) that neither
 *     start with "StreamTitle=" nor are all NUL bytes;
 *   - over the window: the rate (audio between its first and last read in
 *     the window over the time between them), a least-squares fit of
 *     audio bytes against time over every read, the lowest rate in any
 *     bucket of --bucket seconds, and the longest gap between two reads
 *     with data (the window's edges count as reads);
 *   - refused (no usable stream: connect failed or timed out, closed
 *     before the headers, a status other than 200, no audio in time) or
 *     dropped (closed by the server after its stream started).
 *
 * Starting connections sit in one epoll set, polled without delay so that
 * connect and first-byte times are exact; a listener that has its first
 * audio byte moves to a second set, read every --read-interval seconds so
 * that each read drains several of the server's writes.
 *
 * With --processes P the listeners are split over P processes (one ramp,
 * interleaved); their per-listener records live in memory shared with the
 * parent, which writes the summary.  The generator judges itself: its CPU
 * share, how late its reads ran, how far behind its ramp fell and how long
 * starting connections waited for the loop; beyond a threshold the summary
 * says the generator was the bottleneck.
 *
 * Build: cc -O2 -o swarm swarm.c   (benchmarks/swarm.py does it).
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define BUFFER_SIZE (64 * 1024)
#define HEADER_LIMIT (16 * 1024)
#define READ_BATCH 512
#define FAST_EVENTS 1024
#define DRAIN_READS 8
#define LATENESS_SAMPLES 65536
#define TITLE_SLOTS 4
#define TITLE_LENGTH 160
#define CLIENT_ERROR_SLOTS 8

/* The thresholds beyond which the generator's own numbers are suspect. */
#define BOTTLENECK_CPU_SHARE 0.85
#define BOTTLENECK_RAMP_CPU_SHARE 0.95
#define BOTTLENECK_READ_LATENESS 0.25
#define BOTTLENECK_RAMP_LATENESS 0.5
#define BOTTLENECK_STALL 0.1
/* A starting connection waiting longer than this for the loop is a stall. */
#define STALL_LIMIT 0.05

static const char TITLE_PREFIX[] = "StreamTitle=";
#define TITLE_PREFIX_LENGTH 12

enum state { CONNECTING, HEADERS, STREAMING, CLOSED };

enum outcome { O_NONE, O_HELD, O_REFUSED, O_DROPPED, O_CLOSED, O_UNFINISHED };

static const char *const OUTCOMES[] = {"", "held", "refused", "dropped", "closed", "unfinished"};

enum error {
    E_NONE,
    E_SOCKET,          /* client socket: ERRNO */
    E_CONNECT,         /* connect: ERRNO */
    E_HANGUP,          /* connect: hangup */
    E_CONNECT_TIMEOUT, /* connect timeout */
    E_SEND,            /* send: ERRNO */
    E_HEADERS_LONG,    /* headers too long */
    E_STATUS,          /* status N */
    E_BEFORE_AUDIO,    /* before audio: closed | ERRNO */
    E_NO_AUDIO,        /* no audio in time */
    E_NO_AUDIO_END,    /* no audio by the end */
    E_LOST,            /* closed | ERRNO */
};

/* One simulated listener; the array of them is shared with the parent. */
struct listener {
    double t_start, t_connected, t_first, t_end, last;
    double max_gap, max_gap_at;
    double w_first_t, w_last_t;
    double fit[5];
    uint64_t w_first_audio, w_last_audio;
    uint64_t body, audio;
    uint32_t meta_blocks, meta_errors;
    int32_t status, br, metaint;
    int32_t to_meta;   /* audio bytes before the next length byte */
    int32_t meta_left; /* bytes left in the current metadata block */
    int32_t meta_size; /* size of the current metadata block */
    int32_t detail;    /* errno or status for the error */
    int fd;
    uint8_t state, outcome, error;
    uint8_t prefix_ok, zero_ok, titled;
};

struct mark {
    int set;
    double wall, user, system;
};

enum { M_START, M_RAMP_END, M_WINDOW_START, M_WINDOW_END, M_COUNT };

struct client_error {
    int error, detail;
    long count;
};

struct title {
    char text[TITLE_LENGTH];
    long count;
};

/* One process's figures about itself, shared with the parent. */
struct shard_result {
    int finished;
    long started;
    long fd_limit;
    long fd_wanted;
    double ramp_lateness, max_stall;
    long stalls;
    double lateness_p99, lateness_max;
    struct mark marks[M_COUNT];
    struct client_error client_errors[CLIENT_ERROR_SLOTS];
    struct title titles[TITLE_SLOTS];
};

struct options {
    const char *host;
    int port;
    const char *path;
    long listeners;
    double rate;
    int metadata;
    double warmup, window;
    double nominal_kbps, full_rate;
    int processes;
    double read_interval, bucket;
    double connect_timeout, first_byte_timeout;
    int source_addresses;
    double churn_rate, duration;
    double start_at, start_wall;
    const char *json;
    int keep_columns, quiet;
    const char *user_agent;
};

/* What every process knows: the plan, and the shared records. */
struct plan {
    struct options o;
    int shards;
    double start_at, ramp_end, window_start, window_end;
    int churn;
    int n_buckets;
    long total;                  /* listener records, all shards */
    long *base, *count, *churn_total;
    struct listener *listeners;  /* shared */
    uint32_t *buckets;           /* shared: total * n_buckets */
    struct shard_result *results; /* shared */
    struct sockaddr_storage address;
    socklen_t address_length;
    char request[1024];
    size_t request_length;
};

/* One process's running state. */
struct shard {
    struct plan *plan;
    int index;
    long count, churn_total, total;
    double start_at, ramp_step, churn_step;
    struct listener *ls;
    uint32_t *buckets;
    struct shard_result *result;
    int fast, slow;
    struct epoll_event *slow_events;
    int slow_capacity;
    struct epoll_event fast_events[FAST_EVENTS];
    char **heads;
    size_t *head_lengths;
    uint8_t *buffer;
    long pending;
    long pending_low;
    long oldest;
    double fast_returned;
    double *lateness;
    long lateness_count;
};

static double monotonic(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double wall_clock(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double seconds(struct timeval t)
{
    return (double)t.tv_sec + (double)t.tv_usec * 1e-6;
}

static void die(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("swarm: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    exit(2);
}

static const char *errno_name(int code)
{
    static char unknown[32];
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    const char *name = strerrorname_np(code);
    if (name != NULL)
        return name;
#endif
    snprintf(unknown, sizeof unknown, "errno %d", code);
    return unknown;
}

static void *shared(size_t size)
{
    void *memory = mmap(NULL, size ? size : 1, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                        -1, 0);
    if (memory == MAP_FAILED)
        die("cannot map %zu bytes: %s", size, strerror(errno));
    return memory;
}

static void *allocate(size_t size)
{
    void *memory = calloc(1, size ? size : 1);
    if (memory == NULL)
        die("out of memory (%zu bytes)", size);
    return memory;
}

/* ------------------------------------------------------------------ */
/* One process's event loop.                                           */

static void mark(struct shard *s, int which)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    struct mark *m = &s->result->marks[which];
    m->wall = monotonic();
    m->user = seconds(usage.ru_utime);
    m->system = seconds(usage.ru_stime);
    m->set = 1;
}

static double scheduled(const struct shard *s, long k)
{
    if (k < s->count)
        return s->start_at + (double)k * s->ramp_step;
    return s->plan->ramp_end + (double)(k - s->count) * s->churn_step;
}

static void client_error(struct shard *s, int error, int detail)
{
    struct client_error *slots = s->result->client_errors;
    for (int i = 0; i < CLIENT_ERROR_SLOTS; i++) {
        if (slots[i].count == 0 || (slots[i].error == error && slots[i].detail == detail)) {
            slots[i].error = error;
            slots[i].detail = detail;
            slots[i].count++;
            return;
        }
    }
}

static int generator_errno(int code)
{
    return code == EADDRNOTAVAIL || code == EMFILE || code == ENFILE || code == ENOBUFS;
}

static void forget(struct shard *s, struct listener *l, double now, int outcome)
{
    long i = l - s->ls;
    if (l->fd >= 0) {
        if (!l->t_first)
            s->pending--;
        close(l->fd);
        l->fd = -1;
    }
    l->state = CLOSED;
    l->t_end = now;
    l->outcome = (uint8_t)outcome;
    if (s->heads[i] != NULL) {
        free(s->heads[i]);
        s->heads[i] = NULL;
        s->head_lengths[i] = 0;
    }
}

static void refuse(struct shard *s, struct listener *l, double now, int error, int detail)
{
    l->error = (uint8_t)error;
    l->detail = detail;
    forget(s, l, now, O_REFUSED);
}

static void lost(struct shard *s, struct listener *l, double now, int code)
{
    if (!l->t_first) {
        refuse(s, l, now, E_BEFORE_AUDIO, code);
        return;
    }
    l->error = E_LOST;
    l->detail = code;
    forget(s, l, now, O_DROPPED);
}

static void start(struct shard *s, long k)
{
    struct plan *p = s->plan;
    struct listener *l = &s->ls[k];
    long global = (long)s->index + k * (long)p->shards;
    l->fd = -1;
    l->t_start = monotonic();
    s->result->started++;
    int fd = socket(p->address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int code = errno;
        refuse(s, l, l->t_start, E_SOCKET, code);
        client_error(s, E_SOCKET, code);
        return;
    }
    if (p->address.ss_family == AF_INET && p->o.source_addresses > 1) {
        int one = 1;
        struct sockaddr_in source = {0};
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        source.sin_family = AF_INET;
        source.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(global % p->o.source_addresses));
        bind(fd, (struct sockaddr *)&source, sizeof source);
    }
    l->fd = fd;
    s->pending++;
    l->t_start = monotonic();
    if (connect(fd, (struct sockaddr *)&p->address, p->address_length) != 0 &&
        errno != EINPROGRESS) {
        int code = errno;
        refuse(s, l, monotonic(), E_CONNECT, code);
        if (generator_errno(code))
            client_error(s, E_CONNECT, code);
        return;
    }
    struct epoll_event event = {.events = EPOLLOUT, .data.u64 = (uint64_t)k};
    if (epoll_ctl(s->fast, EPOLL_CTL_ADD, fd, &event) != 0)
        die("epoll_ctl: %s", strerror(errno));
}

static void account(struct shard *s, struct listener *l, uint64_t audio, double now)
{
    const struct plan *p = s->plan;
    double ws = p->window_start;
    if (ws <= now && now <= p->window_end) {
        double gap = now - (l->last > ws ? l->last : ws);
        if (gap > l->max_gap) {
            l->max_gap = gap;
            l->max_gap_at = now;
        }
        if (!l->w_first_t) {
            l->w_first_t = now;
            l->w_first_audio = l->audio;
        }
        l->w_last_t = now;
        l->w_last_audio = l->audio;
        double x = now - ws;
        double y = (double)(l->audio - l->w_first_audio);
        l->fit[0] += 1;
        l->fit[1] += x;
        l->fit[2] += y;
        l->fit[3] += x * x;
        l->fit[4] += x * y;
        if (p->n_buckets) {
            int slot = (int)((now - ws) / p->o.bucket);
            if (slot < p->n_buckets)
                s->buckets[(size_t)(l - s->ls) * (size_t)p->n_buckets + (size_t)slot] +=
                    (uint32_t)audio;
        }
    }
    l->last = now;
}

static void note_title(struct shard *s, struct listener *l, const uint8_t *block, size_t size)
{
    size_t length = 0;
    while (length < size && block[length] != 0)
        length++;
    if (length >= TITLE_LENGTH)
        length = TITLE_LENGTH - 1;
    l->titled = 1;
    struct title *slots = s->result->titles;
    for (int i = 0; i < TITLE_SLOTS; i++) {
        if (slots[i].count == 0) {
            memcpy(slots[i].text, block, length);
            slots[i].text[length] = 0;
            slots[i].count = 1;
            return;
        }
        if (strlen(slots[i].text) == length && memcmp(slots[i].text, block, length) == 0) {
            slots[i].count++;
            return;
        }
    }
}

/*
 * Follow a listener's ICY framing through the n body bytes at data,
 * counting its metadata blocks and framing errors.  Returns how many of
 * the bytes are audio.
 */
static uint64_t icy_audio(struct shard *s, struct listener *l, const uint8_t *data, size_t n)
{
    uint64_t audio = 0;
    while (n > 0) {
        if (l->meta_left) {
            size_t step = (size_t)l->meta_left < n ? (size_t)l->meta_left : n;
            size_t at = (size_t)(l->meta_size - l->meta_left);
            if (l->prefix_ok && at < TITLE_PREFIX_LENGTH) {
                size_t compare = TITLE_PREFIX_LENGTH - at < step ? TITLE_PREFIX_LENGTH - at : step;
                if (memcmp(data, TITLE_PREFIX + at, compare) != 0)
                    l->prefix_ok = 0;
            }
            if (l->zero_ok) {
                for (size_t i = 0; i < step; i++) {
                    if (data[i]) {
                        l->zero_ok = 0;
                        break;
                    }
                }
            }
            if (!l->titled && at == 0 && step == (size_t)l->meta_size && l->prefix_ok)
                note_title(s, l, data, step);
            l->meta_left -= (int32_t)step;
            data += step;
            n -= step;
            if (l->meta_left == 0 && !l->prefix_ok && !l->zero_ok)
                l->meta_errors++;
        } else if (l->to_meta) {
            size_t step = (size_t)l->to_meta < n ? (size_t)l->to_meta : n;
            l->to_meta -= (int32_t)step;
            audio += step;
            data += step;
            n -= step;
        } else {
            l->meta_size = data[0] * 16;
            l->meta_left = l->meta_size;
            l->to_meta = l->metaint;
            l->prefix_ok = 1;
            l->zero_ok = 1;
            l->meta_blocks++;
            data++;
            n--;
        }
    }
    return audio;
}

static void body(struct shard *s, struct listener *l, const uint8_t *data, size_t n, double now)
{
    if (!l->t_first) {
        l->t_first = now;
        l->last = now;
        s->pending--;
    }
    l->body += n;
    uint64_t audio = l->metaint ? icy_audio(s, l, data, n) : n;
    l->audio += audio;
    account(s, l, audio, now);
}

/* The decimal number at the start of text[0:length], after blanks; -1 if none. */
static long digits(const char *text, size_t length)
{
    long value = 0;
    size_t i = 0;
    while (i < length && (text[i] == ' ' || text[i] == '\t'))
        i++;
    if (i == length || text[i] < '0' || text[i] > '9')
        return -1;
    for (; i < length && text[i] >= '0' && text[i] <= '9'; i++) {
        value = value * 10 + (text[i] - '0');
        if (value > 1L << 30)
            return -1;
    }
    return value;
}

/* The value of the header line[0:length] if it is the header name, else NULL. */
static const char *header_value(const char *line, size_t length, const char *name, size_t *size)
{
    size_t n = strlen(name);
    if (length <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
        return NULL;
    *size = length - n - 1;
    return line + n + 1;
}

/* Read the status line and the headers in head[0:end]. */
static void parse_head(struct shard *s, struct listener *l, const char *head, size_t end)
{
    const char *stop = head + end;
    const char *eol = memmem(head, end, "\r\n", 2);
    const char *first_end = eol ? eol : stop;
    const char *space = memchr(head, ' ', (size_t)(first_end - head));
    l->status = 0;
    if (space != NULL) {
        const char *code = space + 1;
        size_t length = 0;
        while (code + length < first_end && code[length] >= '0' && code[length] <= '9')
            length++;
        if (length == 3 && (code + 3 == first_end || code[3] == ' '))
            l->status = (int32_t)digits(code, 3);
    }
    while (eol != NULL && eol + 2 < stop) {
        const char *line = eol + 2;
        eol = memmem(line, (size_t)(stop - line), "\r\n", 2);
        size_t length = (size_t)((eol ? eol : stop) - line);
        size_t size;
        const char *value;
        if (s->plan->o.metadata && (value = header_value(line, length, "icy-metaint", &size))) {
            long metaint = digits(value, size);
            l->metaint = metaint > 0 ? (int32_t)metaint : 0;
        } else if ((value = header_value(line, length, "icy-br", &size))) {
            long bitrate = digits(value, size);
            l->br = bitrate > 0 ? (int32_t)bitrate : 0;
        }
    }
}

/*
 * The n bytes just read while the headers were awaited: the headers may
 * span reads; body bytes after them are counted.
 */
static void headers(struct shard *s, struct listener *l, size_t n, double now)
{
    long i = l - s->ls;
    const char *data = (const char *)s->buffer;
    const char *head = data;
    const char *found = NULL;
    size_t old = 0;
    if (s->heads[i] == NULL)
        found = memmem(data, n, "\r\n\r\n", 4);
    if (found == NULL) {
        if (s->heads[i] == NULL)
            s->heads[i] = allocate(HEADER_LIMIT);
        old = s->head_lengths[i];
        size_t room = HEADER_LIMIT - old;
        size_t take = n < room ? n : room;
        memcpy(s->heads[i] + old, data, take);
        s->head_lengths[i] = old + take;
        size_t from = old > 3 ? old - 3 : 0;
        head = s->heads[i];
        found = memmem(head + from, old + take - from, "\r\n\r\n", 4);
        if (found == NULL) {
            if (old + take >= HEADER_LIMIT)
                refuse(s, l, now, E_HEADERS_LONG, 0);
            return;
        }
    }
    size_t end = (size_t)(found - head);
    parse_head(s, l, head, end);
    size_t used = end + 4 - old;
    if (s->heads[i] != NULL) {
        free(s->heads[i]);
        s->heads[i] = NULL;
        s->head_lengths[i] = 0;
    }
    if (l->status != 200) {
        refuse(s, l, now, E_STATUS, l->status);
        return;
    }
    l->to_meta = l->metaint;
    l->state = STREAMING;
    if (used < n)
        body(s, l, s->buffer + used, n - used, now);
}

static void handle_fast(struct shard *s, int events)
{
    struct plan *p = s->plan;
    double now = monotonic();
    s->fast_returned = now;
    for (int e = 0; e < events; e++) {
        long k = (long)s->fast_events[e].data.u64;
        uint32_t flags = s->fast_events[e].events;
        struct listener *l = &s->ls[k];
        if (l->fd < 0)
            continue;
        if (l->state == CONNECTING) {
            int code = 0;
            socklen_t size = sizeof code;
            getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &code, &size);
            if (code || (flags & (EPOLLERR | EPOLLHUP))) {
                refuse(s, l, now, code ? E_CONNECT : E_HANGUP, code);
                continue;
            }
            l->t_connected = now;
            ssize_t sent = send(l->fd, p->request, p->request_length, MSG_NOSIGNAL);
            if (sent != (ssize_t)p->request_length) {
                refuse(s, l, now, E_SEND, sent < 0 ? errno : EAGAIN);
                continue;
            }
            l->state = HEADERS;
            struct epoll_event event = {.events = EPOLLIN, .data.u64 = (uint64_t)k};
            epoll_ctl(s->fast, EPOLL_CTL_MOD, l->fd, &event);
            continue;
        }
        ssize_t n = recv(l->fd, s->buffer, BUFFER_SIZE, 0);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                lost(s, l, now, errno);
            continue;
        }
        if (n == 0) {
            lost(s, l, now, 0);
            continue;
        }
        if (l->state == HEADERS)
            headers(s, l, (size_t)n, now);
        else
            body(s, l, s->buffer, (size_t)n, now);
        if (l->state == STREAMING && l->t_first && l->fd >= 0) {
            struct epoll_event event = {.events = EPOLLIN, .data.u64 = (uint64_t)k};
            epoll_ctl(s->fast, EPOLL_CTL_DEL, l->fd, NULL);
            if (epoll_ctl(s->slow, EPOLL_CTL_ADD, l->fd, &event) != 0)
                die("epoll_ctl: %s", strerror(errno));
        }
    }
}

static void poll_fast(struct shard *s, double timeout)
{
    double entered = monotonic();
    if (s->pending > 0) {
        double stall = entered - s->fast_returned;
        if (stall > s->result->max_stall)
            s->result->max_stall = stall;
        if (stall > STALL_LIMIT)
            s->result->stalls++;
    }
    int ms = timeout > 0 ? (int)(timeout * 1000.0 + 0.999) : 0;
    int events = epoll_wait(s->fast, s->fast_events, FAST_EVENTS, ms);
    if (events < 0) {
        if (errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        events = 0;
    }
    if (events > 0)
        handle_fast(s, events);
    else
        s->fast_returned = monotonic();
}

/* Read everything a streaming listener has waiting. */
static void drain(struct shard *s, struct listener *l, double at)
{
    for (int i = 0; i < DRAIN_READS; i++) {
        ssize_t n = recv(l->fd, s->buffer, BUFFER_SIZE, 0);
        double now = at > 0 ? at : monotonic();
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                lost(s, l, now, errno);
            return;
        }
        if (n == 0) {
            lost(s, l, now, 0);
            return;
        }
        body(s, l, s->buffer, (size_t)n, now);
        if (n < BUFFER_SIZE)
            return;
    }
}

/* Read every streaming socket with data, serving starting ones between batches. */
static void read_streams(struct shard *s, double at)
{
    int events = epoll_wait(s->slow, s->slow_events, s->slow_capacity, 0);
    for (int e = 0; e < events; e++) {
        if (e && e % READ_BATCH == 0)
            poll_fast(s, 0);
        struct listener *l = &s->ls[(long)s->slow_events[e].data.u64];
        if (l->fd >= 0 && l->state == STREAMING)
            drain(s, l, at);
    }
}

/* Give up on listeners that took too long to connect or to answer. */
static void expire(struct shard *s, long started, double now)
{
    const struct options *o = &s->plan->o;
    while (s->pending_low < started &&
           (s->ls[s->pending_low].fd < 0 || s->ls[s->pending_low].t_first))
        s->pending_low++;
    for (long k = s->pending_low; k < started; k++) {
        struct listener *l = &s->ls[k];
        if (l->fd < 0 || l->t_first)
            continue;
        if (l->state == CONNECTING && now - l->t_start > o->connect_timeout)
            refuse(s, l, now, E_CONNECT_TIMEOUT, 0);
        else if (l->state != CONNECTING && now - l->t_start > o->first_byte_timeout)
            refuse(s, l, now, E_NO_AUDIO, 0);
    }
}

/* Churn: close the oldest listener still open, abortively one time in ten. */
static void retire_oldest(struct shard *s, long started, double now)
{
    while (s->oldest < started) {
        struct listener *l = &s->ls[s->oldest++];
        if (l->fd < 0)
            continue;
        if ((l - s->ls) % 10 == 9) {
            struct linger reset = {.l_onoff = 1, .l_linger = 0};
            setsockopt(l->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
        }
        forget(s, l, now, O_CLOSED);
        return;
    }
}

static void close_all(struct shard *s, long started, double now)
{
    for (long k = 0; k < started; k++) {
        struct listener *l = &s->ls[k];
        if (l->fd < 0)
            continue;
        if (l->t_first)
            forget(s, l, now, O_HELD);
        else if (now - l->t_start < s->plan->o.first_byte_timeout)
            forget(s, l, now, O_UNFINISHED);
        else
            refuse(s, l, now, E_NO_AUDIO_END, 0);
    }
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of values[0:n] (sorted in place); 0 when none. */
static double percentile(double *values, long n, double share, int sorted)
{
    if (n <= 0)
        return 0.0;
    if (!sorted)
        qsort(values, (size_t)n, sizeof *values, compare_doubles);
    long rank = (long)(share * (double)n + 0.999999) - 1;
    if (rank < 0)
        rank = 0;
    if (rank > n - 1)
        rank = n - 1;
    return values[rank];
}

static void run_shard(struct plan *p, int index)
{
    struct shard s = {0};
    s.plan = p;
    s.index = index;
    s.count = p->count[index];
    s.churn_total = p->churn_total[index];
    s.total = s.count + s.churn_total;
    s.ls = p->listeners + p->base[index];
    s.buckets = p->buckets + (size_t)p->base[index] * (size_t)p->n_buckets;
    s.result = &p->results[index];
    s.ramp_step = (double)p->shards / p->o.rate;
    s.start_at = p->start_at + (double)index / p->o.rate;
    s.churn_step = p->churn ? (double)p->shards / p->o.churn_rate : 0.0;
    s.fast = epoll_create1(EPOLL_CLOEXEC);
    s.slow = epoll_create1(EPOLL_CLOEXEC);
    if (s.fast < 0 || s.slow < 0)
        die("epoll_create1: %s", strerror(errno));
    s.slow_capacity = (int)(s.count + 16);
    s.slow_events = allocate(sizeof *s.slow_events * (size_t)s.slow_capacity);
    s.heads = allocate(sizeof *s.heads * (size_t)(s.total + 1));
    s.head_lengths = allocate(sizeof *s.head_lengths * (size_t)(s.total + 1));
    s.buffer = allocate(BUFFER_SIZE);
    s.lateness = allocate(sizeof *s.lateness * LATENESS_SAMPLES);
    for (long k = 0; k < s.total; k++)
        s.ls[k].fd = -1;

    double marks[M_COUNT] = {0, p->ramp_end, p->window_start, p->window_end};
    int next_mark = M_RAMP_END;
    long k = 0;
    double next_read = 0.0, next_check = 0.0;
    double window_end = p->window_end;
    while (monotonic() < s.start_at - 0.001) {
        double left = s.start_at - monotonic();
        struct timespec nap = {0, (long)((left < 0.05 ? left : 0.05) * 1e9)};
        nanosleep(&nap, NULL);
    }
    mark(&s, M_START);
    s.fast_returned = monotonic();
    for (;;) {
        double now = monotonic();
        while (next_mark < M_WINDOW_END && now >= marks[next_mark])
            mark(&s, next_mark++);
        if (now >= window_end)
            break;
        while (k < s.total && scheduled(&s, k) <= now) {
            double late = now - scheduled(&s, k);
            if (late > s.result->ramp_lateness)
                s.result->ramp_lateness = late;
            if (k >= s.count)
                retire_oldest(&s, k, now);
            start(&s, k);
            k++;
        }
        if (now >= next_read) {
            if (next_read) {
                if (s.lateness_count < LATENESS_SAMPLES)
                    s.lateness[s.lateness_count++] = now - next_read;
            }
            next_read = next_read + p->o.read_interval > now ? next_read + p->o.read_interval
                                                             : now;
            read_streams(&s, 0.0);
        }
        if (now >= next_check) {
            next_check = now + 0.5;
            expire(&s, k, now);
        }
        double deadline = next_read < next_check ? next_read : next_check;
        if (window_end < deadline)
            deadline = window_end;
        if (k < s.total && scheduled(&s, k) < deadline)
            deadline = scheduled(&s, k);
        if (next_mark < M_WINDOW_END && marks[next_mark] < deadline)
            deadline = marks[next_mark];
        poll_fast(&s, deadline - monotonic());
    }
    read_streams(&s, window_end);
    mark(&s, M_WINDOW_END);
    close_all(&s, k, window_end);
    s.result->lateness_max = 0.0;
    for (long i = 0; i < s.lateness_count; i++)
        if (s.lateness[i] > s.result->lateness_max)
            s.result->lateness_max = s.lateness[i];
    s.result->lateness_p99 = percentile(s.lateness, s.lateness_count, 0.99, 0);
    s.result->finished = 1;
}

/* ------------------------------------------------------------------ */
/* The summary.                                                        */

static FILE *out;

static void put_number(double value)
{
    if (value != value || value > 1e300 || value < -1e300)
        fputs("null", out);
    else if (value == (double)(long long)value && value < 1e15 && value > -1e15)
        fprintf(out, "%lld", (long long)value);
    else
        fprintf(out, "%.10g", value);
}

static void put_optional(double value, int present)
{
    if (present)
        put_number(value);
    else
        fputs("null", out);
}

static void put_string(const char *text)
{
    fputc('"', out);
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(out, "\\%c", *c);
        else if (*c < 0x20 || *c >= 0x7f)
            fprintf(out, "\\u%04x", *c);
        else
            fputc(*c, out);
    }
    fputc('"', out);
}

static void key(const char *name)
{
    put_string(name);
    fputs(": ", out);
}

static const char *const PERCENTILE_NAMES[] = {"p50", "p90", "p99", "max"};
static const double PERCENTILE_SHARES[] = {0.5, 0.9, 0.99, 1.0};
static const char *const LOW_NAMES[] = {"min", "p1", "p50", "max"};
static const double LOW_SHARES[] = {0.0, 0.01, 0.5, 1.0};

static void put_percentiles(double *values, long n, int low)
{
    qsort(values, (size_t)n, sizeof *values, compare_doubles);
    fputc('{', out);
    for (int i = 0; i < 4; i++) {
        if (i)
            fputs(", ", out);
        key(low ? LOW_NAMES[i] : PERCENTILE_NAMES[i]);
        put_optional(percentile(values, n, low ? LOW_SHARES[i] : PERCENTILE_SHARES[i], 1), n > 0);
    }
    fputc('}', out);
}

static void describe_error(char *text, size_t size, int error, int detail)
{
    switch (error) {
    case E_SOCKET:
        snprintf(text, size, "client socket: %s", errno_name(detail));
        break;
    case E_CONNECT:
        snprintf(text, size, "connect: %s", errno_name(detail));
        break;
    case E_HANGUP:
        snprintf(text, size, "connect: hangup");
        break;
    case E_CONNECT_TIMEOUT:
        snprintf(text, size, "connect timeout");
        break;
    case E_SEND:
        snprintf(text, size, "send: %s", errno_name(detail));
        break;
    case E_HEADERS_LONG:
        snprintf(text, size, "headers too long");
        break;
    case E_STATUS:
        snprintf(text, size, "status %d", detail);
        break;
    case E_BEFORE_AUDIO:
        snprintf(text, size, "before audio: %s", detail ? errno_name(detail) : "closed");
        break;
    case E_NO_AUDIO:
        snprintf(text, size, "no audio in time");
        break;
    case E_NO_AUDIO_END:
        snprintf(text, size, "no audio by the end");
        break;
    case E_LOST:
        snprintf(text, size, "%s", detail ? errno_name(detail) : "closed");
        break;
    default:
        text[0] = 0;
    }
}

struct tally {
    long a, b, c; /* what is counted */
    long count;
};

static int compare_tally_keys(const void *x, const void *y)
{
    const struct tally *a = x, *b = y;
    if (a->a != b->a)
        return (a->a > b->a) - (a->a < b->a);
    if (a->b != b->b)
        return (a->b > b->b) - (a->b < b->b);
    return (a->c > b->c) - (a->c < b->c);
}

static int compare_tally_counts(const void *x, const void *y)
{
    const struct tally *a = x, *b = y;
    if (a->count != b->count)
        return (a->count < b->count) - (a->count > b->count);
    return compare_tally_keys(x, y);
}

/* Count equal entries of items[0:n] in place; returns how many distinct. */
static long tally(struct tally *items, long n)
{
    if (n == 0)
        return 0;
    qsort(items, (size_t)n, sizeof *items, compare_tally_keys);
    long distinct = 0;
    for (long i = 0; i < n; i++) {
        if (distinct && compare_tally_keys(&items[distinct - 1], &items[i]) == 0) {
            items[distinct - 1].count++;
        } else {
            items[distinct] = items[i];
            items[distinct].count = 1;
            distinct++;
        }
    }
    qsort(items, (size_t)distinct, sizeof *items, compare_tally_counts);
    return distinct;
}

static double slope(const double *fit)
{
    double n = fit[0], sx = fit[1], sy = fit[2], sxx = fit[3], sxy = fit[4];
    double spread = n * sxx - sx * sx;
    return n > 2 && spread > 0 ? (n * sxy - sx * sy) / spread : -1.0;
}

struct phase_cpu {
    int present;
    double cpu, user, system, wall;
};

static struct phase_cpu phase(const struct shard_result *r, int from, int to)
{
    struct phase_cpu ph = {0};
    const struct mark *a = &r->marks[from], *b = &r->marks[to];
    if (a->set && b->set && b->wall > a->wall) {
        ph.present = 1;
        ph.user = b->user - a->user;
        ph.system = b->system - a->system;
        ph.cpu = ph.user + ph.system;
        ph.wall = b->wall - a->wall;
    }
    return ph;
}

static void put_phase(const char *name, struct phase_cpu ph, int *first)
{
    if (!ph.present)
        return;
    if (!*first)
        fputs(", ", out);
    *first = 0;
    key(name);
    fputc('{', out);
    key("cpu_s");
    put_number(ph.cpu);
    fputs(", ", out);
    key("user_s");
    put_number(ph.user);
    fputs(", ", out);
    key("system_s");
    put_number(ph.system);
    fputs(", ", out);
    key("wall_s");
    put_number(ph.wall);
    fputs(", ", out);
    key("cpu_share");
    put_number(ph.cpu / ph.wall);
    fputc('}', out);
}

struct column {
    const char *name;
    double *values;
    uint8_t *present;
};

static void summarise(struct plan *p, double run_user, double run_system)
{
    const struct options *o = &p->o;
    long total = 0;
    for (int s = 0; s < p->shards; s++)
        total += p->results[s].started;
    double *ttfb = allocate(sizeof(double) * (size_t)(total + 1));
    double *ttfb_ramp = allocate(sizeof(double) * (size_t)(total + 1));
    double *connect_ms = allocate(sizeof(double) * (size_t)(total + 1));
    double *rates = allocate(sizeof(double) * (size_t)(total + 1));
    double *gaps = allocate(sizeof(double) * (size_t)(total + 1));
    double *gap_ends = allocate(sizeof(double) * (size_t)(total + 1));
    double *bucket_rates = allocate(sizeof(double) * (size_t)(total + 1));
    double *fitted = allocate(sizeof(double) * (size_t)(total + 1));
    struct tally *outcomes = allocate(sizeof(struct tally) * (size_t)(total + 1));
    struct tally *errors = allocate(sizeof(struct tally) * (size_t)(total + 1));
    struct tally *metaints = allocate(sizeof(struct tally) * (size_t)(total + 1));
    struct tally *bitrates = allocate(sizeof(struct tally) * (size_t)(total + 1));
    long n_ttfb = 0, n_ttfb_ramp = 0, n_connect = 0, n_rates = 0, n_gaps = 0, n_gap_ends = 0;
    long n_buckets = 0, n_fitted = 0, n_outcomes = 0, n_errors = 0, n_metaints = 0, n_bitrates = 0;
    double listener_seconds = 0.0;
    uint64_t audio_bytes = 0, body_bytes = 0;
    long meta_blocks = 0, framing_errors = 0;
    double ws = p->window_start, we = p->window_end;

    enum { C_CONNECT, C_TTFB, C_RATE, C_GAP, C_GAP_END, C_WINDOW, C_BUCKET, C_FITTED, C_AUDIO,
           C_BODY, C_BLOCKS, C_FRAMING, C_COUNT };
    static const char *const column_names[C_COUNT] = {
        "connect_ms", "ttfb_ms", "rate", "max_gap_s", "max_gap_end_s", "window_s",
        "min_bucket_rate", "fitted_rate", "audio_bytes", "body_bytes", "meta_blocks",
        "framing_errors"};
    struct column columns[C_COUNT];
    long *column_outcome = NULL;
    char (*column_error)[64] = NULL;
    if (o->keep_columns) {
        for (int c = 0; c < C_COUNT; c++) {
            columns[c].name = column_names[c];
            columns[c].values = allocate(sizeof(double) * (size_t)(total + 1));
            columns[c].present = allocate((size_t)(total + 1));
        }
        column_outcome = allocate(sizeof(long) * (size_t)(total + 1));
        column_error = allocate(64 * (size_t)(total + 1));
    }
    long row = 0;
    for (int sh = 0; sh < p->shards; sh++) {
        for (long k = 0; k < p->results[sh].started; k++, row++) {
            const struct listener *l = &p->listeners[p->base[sh] + k];
            const uint32_t *buckets = p->buckets + (size_t)(p->base[sh] + k) * (size_t)p->n_buckets;
            int started = l->t_first > 0;
            double values[C_COUNT] = {0};
            uint8_t present[C_COUNT] = {0};
            outcomes[n_outcomes++].a = l->outcome;
            if (l->outcome == O_REFUSED || l->outcome == O_DROPPED) {
                struct tally *t = &errors[n_errors++];
                t->a = l->outcome;
                t->b = l->error;
                t->c = l->detail;
            }
            if (l->t_connected) {
                values[C_CONNECT] = (l->t_connected - l->t_start) * 1000.0;
                present[C_CONNECT] = 1;
                connect_ms[n_connect++] = values[C_CONNECT];
            }
            if (started) {
                values[C_TTFB] = (l->t_first - l->t_start) * 1000.0;
                present[C_TTFB] = 1;
                ttfb[n_ttfb++] = values[C_TTFB];
                if (k < p->count[sh])
                    ttfb_ramp[n_ttfb_ramp++] = values[C_TTFB];
                metaints[n_metaints++].a = l->metaint;
                bitrates[n_bitrates++].a = l->br;
            }
            double end = l->t_end ? l->t_end : we;
            double inside = 0.0;
            if (started) {
                double from = l->t_first > ws ? l->t_first : ws;
                double to = end < we ? end : we;
                inside = to > from ? to - from : 0.0;
            }
            values[C_WINDOW] = inside;
            present[C_WINDOW] = 1;
            listener_seconds += inside;
            int through = started && l->t_first <= ws &&
                          (l->outcome == O_HELD || l->outcome == O_NONE);
            if (through) {
                double span = l->w_last_t - l->w_first_t;
                double rate = span > 0 ? (double)(l->w_last_audio - l->w_first_audio) / span : 0.0;
                values[C_RATE] = rate;
                rates[n_rates++] = rate;
                double gap = l->max_gap, gap_at = l->max_gap_at;
                double to = end < we ? end : we;
                double last = l->last > ws ? l->last : ws;
                if (to - last > gap) {
                    gap = to - last;
                    gap_at = to;
                }
                values[C_GAP] = gap;
                gaps[n_gaps++] = gap;
                values[C_GAP_END] = gap_at - ws;
                gap_ends[n_gap_ends++] = gap_at - ws;
                present[C_RATE] = present[C_GAP] = present[C_GAP_END] = 1;
                if (p->n_buckets) {
                    int full = (int)((we - ws) / o->bucket);
                    if (full < 1)
                        full = 1;
                    uint32_t low = buckets[0];
                    for (int b = 1; b < full && b < p->n_buckets; b++)
                        if (buckets[b] < low)
                            low = buckets[b];
                    values[C_BUCKET] = (double)low / o->bucket;
                    present[C_BUCKET] = 1;
                    bucket_rates[n_buckets++] = values[C_BUCKET];
                }
                double fit = slope(l->fit);
                if (fit >= 0) {
                    values[C_FITTED] = fit;
                    present[C_FITTED] = 1;
                    fitted[n_fitted++] = fit;
                }
            }
            values[C_AUDIO] = (double)l->audio;
            values[C_BODY] = (double)l->body;
            values[C_BLOCKS] = l->meta_blocks;
            values[C_FRAMING] = l->meta_errors;
            present[C_AUDIO] = present[C_BODY] = present[C_BLOCKS] = present[C_FRAMING] = 1;
            audio_bytes += l->audio;
            body_bytes += l->body;
            meta_blocks += l->meta_blocks;
            framing_errors += l->meta_errors;
            if (o->keep_columns) {
                for (int c = 0; c < C_COUNT; c++) {
                    columns[c].values[row] = values[c];
                    columns[c].present[row] = present[c];
                }
                column_outcome[row] = l->outcome;
                describe_error(column_error[row], 64, l->error, l->detail);
            }
        }
    }

    /* The nominal rate: given, or the most common icy-br. */
    n_metaints = tally(metaints, n_metaints);
    n_bitrates = tally(bitrates, n_bitrates);
    double nominal = 0.0;
    const char *nominal_from = "--nominal-kbps";
    if (o->nominal_kbps > 0) {
        nominal = o->nominal_kbps * 1000.0 / 8.0;
    } else {
        nominal_from = "unknown";
        for (long i = 0; i < n_bitrates; i++) {
            if (bitrates[i].a) {
                nominal = (double)bitrates[i].a * 1000.0 / 8.0;
                nominal_from = "icy-br";
                break;
            }
        }
    }
    double threshold = o->full_rate * nominal;
    long full = 0;
    for (long i = 0; i < n_rates; i++)
        if (nominal > 0 && rates[i] >= threshold)
            full++;
    qsort(fitted, (size_t)n_fitted, sizeof *fitted, compare_doubles);
    double median_rate = n_fitted ? percentile(fitted, n_fitted, 0.5, 1) : 0.0;
    if (median_rate <= 0 && n_rates) {
        double *copy = allocate(sizeof(double) * (size_t)n_rates);
        memcpy(copy, rates, sizeof(double) * (size_t)n_rates);
        median_rate = percentile(copy, n_rates, 0.5, 0);
        free(copy);
    }

    /* The generator's own health. */
    char reasons[64][200];
    int n_reasons = 0;
    double lateness_p99 = 0, lateness_max = 0, ramp_late = 0, max_stall = 0;
    long stalls = 0, fd_limit = -1;
    for (int sh = 0; sh < p->shards; sh++) {
        const struct shard_result *r = &p->results[sh];
        struct phase_cpu window = phase(r, M_WINDOW_START, M_WINDOW_END);
        struct phase_cpu ramp = phase(r, M_START, M_RAMP_END);
        if (window.present && window.cpu / window.wall >= BOTTLENECK_CPU_SHARE && n_reasons < 64)
            snprintf(reasons[n_reasons++], 200, "shard %d used %.0f%% of a core in the window", sh,
                     100.0 * window.cpu / window.wall);
        if (ramp.present && ramp.cpu / ramp.wall >= BOTTLENECK_RAMP_CPU_SHARE && n_reasons < 64)
            snprintf(reasons[n_reasons++], 200, "shard %d used %.0f%% of a core in the ramp", sh,
                     100.0 * ramp.cpu / ramp.wall);
        for (int i = 0; i < CLIENT_ERROR_SLOTS && n_reasons < 64; i++) {
            if (!r->client_errors[i].count)
                continue;
            char text[100];
            const struct client_error *e = &r->client_errors[i];
            describe_error(text, sizeof text, e->error, e->detail);
            snprintf(reasons[n_reasons++], 200, "shard %d: %ld x %s", sh, r->client_errors[i].count,
                     text);
        }
        if (r->fd_limit < r->fd_wanted && n_reasons < 64)
            snprintf(reasons[n_reasons++], 200, "shard %d: open-file limit %ld below %ld", sh,
                     r->fd_limit, r->fd_wanted);
        if (r->lateness_p99 > lateness_p99)
            lateness_p99 = r->lateness_p99;
        if (r->lateness_max > lateness_max)
            lateness_max = r->lateness_max;
        if (r->ramp_lateness > ramp_late)
            ramp_late = r->ramp_lateness;
        if (r->max_stall > max_stall)
            max_stall = r->max_stall;
        stalls += r->stalls;
        if (fd_limit < 0 || r->fd_limit < fd_limit)
            fd_limit = r->fd_limit;
    }
    if (lateness_p99 > BOTTLENECK_READ_LATENESS && n_reasons < 64)
        snprintf(reasons[n_reasons++], 200, "reads ran late (p99 %.3f s)", lateness_p99);
    if (ramp_late > BOTTLENECK_RAMP_LATENESS && n_reasons < 64)
        snprintf(reasons[n_reasons++], 200, "the ramp fell %.2f s behind schedule", ramp_late);
    if (max_stall > BOTTLENECK_STALL && n_reasons < 64)
        snprintf(reasons[n_reasons++], 200,
                 "starting connections waited up to %.0f ms for the loop", max_stall * 1000.0);

    n_outcomes = tally(outcomes, n_outcomes);
    n_errors = tally(errors, n_errors);
    long refused = 0, dropped = 0;
    for (long i = 0; i < n_outcomes; i++) {
        if (outcomes[i].a == O_REFUSED)
            refused = outcomes[i].count;
        if (outcomes[i].a == O_DROPPED)
            dropped = outcomes[i].count;
    }

    fputs("{\n", out);
    key("client");
    put_string("swarm");
    fputs(",\n", out);
    key("mode");
    put_string(p->churn ? "churn" : "fanout");
    fputs(",\n", out);
    char target[600];
    snprintf(target, sizeof target, "http://%s:%d%s", o->host, o->port, o->path);
    key("target");
    put_string(target);
    fputs(",\n", out);
    key("metadata");
    fputs(o->metadata ? "true" : "false", out);
    fputs(",\n", out);
#define NUMBER(name, value)                                                                        \
    do {                                                                                           \
        key(name);                                                                                 \
        put_number(value);                                                                         \
        fputs(",\n", out);                                                                         \
    } while (0)
    NUMBER("listeners_requested", (double)o->listeners);
    NUMBER("connections_started", (double)total);
    NUMBER("rate_per_s", o->rate);
    NUMBER("churn_per_s", o->churn_rate);
    NUMBER("start_at", p->start_at);
    NUMBER("ramp_end", p->ramp_end);
    NUMBER("window_start", p->window_start);
    NUMBER("window_end", p->window_end);
    NUMBER("window_s", p->window_end - p->window_start);
    NUMBER("nominal_bytes_per_s", nominal);
    key("nominal_from");
    put_string(nominal_from);
    fputs(",\n", out);
    key("outcomes");
    fputc('{', out);
    for (long i = 0; i < n_outcomes; i++) {
        if (i)
            fputs(", ", out);
        key(OUTCOMES[outcomes[i].a]);
        put_number((double)outcomes[i].count);
    }
    fputs("},\n", out);
    key("errors");
    fputc('{', out);
    for (long i = 0; i < n_errors && i < 10; i++) {
        char text[100], label[120];
        describe_error(text, sizeof text, (int)errors[i].b, (int)errors[i].c);
        snprintf(label, sizeof label, "%s: %s", OUTCOMES[errors[i].a], text);
        if (i)
            fputs(", ", out);
        key(label);
        put_number((double)errors[i].count);
    }
    fputs("},\n", out);
    NUMBER("refused", (double)refused);
    NUMBER("dropped", (double)dropped);
    NUMBER("got_audio", (double)n_ttfb);
    NUMBER("held_through_window", (double)n_rates);
    NUMBER("full_rate", (double)full);
    NUMBER("full_rate_threshold", o->full_rate);
    key("ttfb_ms");
    put_percentiles(ttfb, n_ttfb, 0);
    fputs(",\n", out);
    key("ttfb_ramp_ms");
    put_percentiles(ttfb_ramp, n_ttfb_ramp, 0);
    fputs(",\n", out);
    key("connect_ms");
    put_percentiles(connect_ms, n_connect, 0);
    fputs(",\n", out);
    key("rate_bytes_per_s");
    put_percentiles(rates, n_rates, 1);
    fputs(",\n", out);
    key("rate_vs_nominal_pct");
    put_optional(median_rate / nominal * 100.0, median_rate > 0 && nominal > 0);
    fputs(",\n", out);
    NUMBER("rate_fitted_on", (double)n_fitted);
    key("min_bucket_rate_bytes_per_s");
    put_percentiles(bucket_rates, n_buckets, 1);
    fputs(",\n", out);
    NUMBER("bucket_s", o->bucket);
    key("max_gap_s");
    put_percentiles(gaps, n_gaps, 0);
    fputs(",\n", out);
    key("max_gap_end_s");
    put_percentiles(gap_ends, n_gap_ends, 1);
    fputs(",\n", out);
    NUMBER("gap_resolution_s", o->read_interval + lateness_max);
    NUMBER("listener_seconds", listener_seconds);
    NUMBER("audio_bytes", (double)audio_bytes);
    NUMBER("body_bytes", (double)body_bytes);

    key("icy");
    fputs("{", out);
    key("metaint");
    fputc('{', out);
    for (long i = 0; i < n_metaints; i++) {
        char name[32];
        snprintf(name, sizeof name, "%ld", metaints[i].a);
        if (i)
            fputs(", ", out);
        key(name);
        put_number((double)metaints[i].count);
    }
    fputs("}, ", out);
    key("icy_br");
    fputc('{', out);
    for (long i = 0; i < n_bitrates; i++) {
        char name[32];
        snprintf(name, sizeof name, "%ld", bitrates[i].a);
        if (i)
            fputs(", ", out);
        key(name);
        put_number((double)bitrates[i].count);
    }
    fputs("}, ", out);
    key("meta_blocks");
    put_number((double)meta_blocks);
    fputs(", ", out);
    key("framing_errors");
    put_number((double)framing_errors);
    fputs(", ", out);
    key("titles");
    fputc('{', out);
    int first_title = 1;
    for (int sh = 0; sh < p->shards; sh++) {
        for (int i = 0; i < TITLE_SLOTS; i++) {
            const struct title *t = &p->results[sh].titles[i];
            if (!t->count)
                continue;
            /* Each title once, counted over every shard. */
            long count = 0;
            int seen = 0;
            for (int other = 0; other < p->shards; other++) {
                for (int j = 0; j < TITLE_SLOTS; j++) {
                    const struct title *u = &p->results[other].titles[j];
                    if (!u->count || strcmp(u->text, t->text) != 0)
                        continue;
                    if (other < sh || (other == sh && j < i))
                        seen = 1;
                    count += u->count;
                }
            }
            if (seen)
                continue;
            if (!first_title)
                fputs(", ", out);
            first_title = 0;
            key(t->text);
            put_number((double)count);
        }
    }
    fputs("}},\n", out);

    key("loadgen");
    fputs("{", out);
    key("client");
    put_string("swarm");
    fputs(", ", out);
    key("processes");
    put_number(p->shards);
    fputs(", ", out);
    key("read_interval_s");
    put_number(o->read_interval);
    fputs(", ", out);
    key("read_lateness_p99_s");
    put_number(lateness_p99);
    fputs(", ", out);
    key("read_lateness_max_s");
    put_number(lateness_max);
    fputs(", ", out);
    key("ramp_lateness_s");
    put_number(ramp_late);
    fputs(", ", out);
    key("ttfb_resolution_s");
    put_number(max_stall);
    fputs(", ", out);
    key("stalls_over_50ms");
    put_number((double)stalls);
    fputs(", ", out);
    key("buffer_bytes");
    put_number(BUFFER_SIZE);
    fputs(", ", out);
    key("cpu_user_s");
    put_number(run_user);
    fputs(", ", out);
    key("cpu_system_s");
    put_number(run_system);
    fputs(", ", out);
    key("phases");
    fputc('[', out);
    double window_user = 0, window_system = 0;
    for (int sh = 0; sh < p->shards; sh++) {
        const struct shard_result *r = &p->results[sh];
        struct phase_cpu ramp = phase(r, M_START, M_RAMP_END);
        struct phase_cpu window = phase(r, M_WINDOW_START, M_WINDOW_END);
        window_user += window.user;
        window_system += window.system;
        int first = 1;
        if (sh)
            fputs(", ", out);
        fputc('{', out);
        put_phase("ramp", ramp, &first);
        put_phase("window", window, &first);
        fputc('}', out);
    }
    fputs("], ", out);
    key("window_cpu_us_per_listener_s");
    fputc('{', out);
    key("user");
    put_optional(window_user * 1e6 / listener_seconds, listener_seconds > 0);
    fputs(", ", out);
    key("system");
    put_optional(window_system * 1e6 / listener_seconds, listener_seconds > 0);
    fputs(", ", out);
    key("total");
    put_optional((window_user + window_system) * 1e6 / listener_seconds, listener_seconds > 0);
    fputs("}, ", out);
    key("fd_limit");
    put_number((double)fd_limit);
    fputs(", ", out);
    key("bottleneck");
    fputs(n_reasons ? "true" : "false", out);
    fputs(", ", out);
    key("bottleneck_reasons");
    fputc('[', out);
    for (int i = 0; i < n_reasons; i++) {
        if (i)
            fputs(", ", out);
        put_string(reasons[i]);
    }
    fputs("]}", out);

    if (o->keep_columns) {
        fputs(",\n", out);
        key("columns");
        fputs("{", out);
        key("outcome");
        fputc('[', out);
        for (long r = 0; r < total; r++) {
            if (r)
                fputs(", ", out);
            put_string(OUTCOMES[column_outcome[r]]);
        }
        fputs("], ", out);
        key("error");
        fputc('[', out);
        for (long r = 0; r < total; r++) {
            if (r)
                fputs(", ", out);
            put_string(column_error[r]);
        }
        fputc(']', out);
        for (int c = 0; c < C_COUNT; c++) {
            fputs(", ", out);
            key(columns[c].name);
            fputc('[', out);
            for (long r = 0; r < total; r++) {
                if (r)
                    fputs(", ", out);
                put_optional(columns[c].values[r], columns[c].present[r]);
            }
            fputc(']', out);
        }
        fputc('}', out);
    }
    fputs("\n}\n", out);
#undef NUMBER

    if (!o->quiet) {
        fprintf(stderr,
                "%s %s metadata=%s: %ld connections, %ld got audio, %ld refused, %ld dropped\n",
                p->churn ? "churn" : "fanout", target, o->metadata ? "True" : "False", total,
                n_ttfb, refused, dropped);
        if (!p->churn) {
            qsort(gaps, (size_t)n_gaps, sizeof *gaps, compare_doubles);
            fprintf(stderr,
                    "window %g s: %ld/%ld at >= %.0f%% of %.0f B/s; median rate %.3f%% of "
                    "nominal; longest gap max %.2f s, p99 %.2f s\n",
                    p->window_end - p->window_start, full, o->listeners, o->full_rate * 100.0,
                    nominal, nominal > 0 ? median_rate / nominal * 100.0 : 0.0,
                    percentile(gaps, n_gaps, 1.0, 1), percentile(gaps, n_gaps, 0.99, 1));
        }
        qsort(ttfb, (size_t)n_ttfb, sizeof *ttfb, compare_doubles);
        fprintf(stderr, "TTFB ms p50 %.1f p99 %.1f max %.1f; framing errors %ld\n",
                percentile(ttfb, n_ttfb, 0.5, 1), percentile(ttfb, n_ttfb, 0.99, 1),
                percentile(ttfb, n_ttfb, 1.0, 1), framing_errors);
        for (long i = 0; i < n_errors && i < 10; i++) {
            char text[100];
            describe_error(text, sizeof text, (int)errors[i].b, (int)errors[i].c);
            fprintf(stderr, "  %ld x %s: %s\n", errors[i].count, OUTCOMES[errors[i].a], text);
        }
        fprintf(stderr, "swarm: %d process(es), CPU user %.2f s, system %.2f s\n", p->shards,
                run_user, run_system);
        if (n_reasons) {
            fputs("LOADGEN WAS THE BOTTLENECK:", stderr);
            for (int i = 0; i < n_reasons; i++)
                fprintf(stderr, "%s %s", i ? ";" : "", reasons[i]);
            fputc('\n', stderr);
        }
    }
}

/* ------------------------------------------------------------------ */
/* The command line, and the processes.                                */

static const char USAGE[] =
    "usage: swarm [options]\n"
    "\n"
    "Many HTTP/ICY stream listeners on loopback, measured over a steady window\n"
    "(the compiled counterpart of benchmarks/loadgen.py, with the same options\n"
    "and JSON summary).  benchmarks/swarm.py builds and runs it; it also takes\n"
    "--cache DIR, where the program is built.\n"
    "\n"
    "  --host HOST             server address (default 127.0.0.1)\n"
    "  --port PORT             server port (default 8000)\n"
    "  --path PATH             mount path (default /stream)\n"
    "  --url http://HOST:PORT/PATH   instead of the three above\n"
    "  -n, --listeners N       listeners (default 100)\n"
    "  -r, --rate R            connections per second in the ramp (default 100)\n"
    "  --metadata | --no-metadata   send Icy-MetaData: 1 (default: yes)\n"
    "  --warmup S              seconds between the ramp and the window (default 5)\n"
    "  --window S              seconds measured (default 30)\n"
    "  --nominal-kbps K        expected bitrate (default: from icy-br)\n"
    "  --full-rate F           share of nominal that counts as full rate (0.95)\n"
    "  -P, --processes P       processes, each with its epoll loop (0 or 1: one)\n"
    "  --read-interval S       seconds between reads of streaming sockets\n"
    "                          (default: listeners/60000, within 0.02..0.25)\n"
    "  --bucket S              seconds per rate bucket (default 5)\n"
    "  --connect-timeout S     (default 10)\n"
    "  --first-byte-timeout S  (default 15)\n"
    "  --source-addresses N    connect from 127.0.0.1..N (default 8)\n"
    "  --churn-rate X          churn: listeners replaced per second after the ramp\n"
    "  --duration S            churn: seconds of churn (default 600)\n"
    "  --start-at T            start the ramp at T on CLOCK_MONOTONIC (Python's\n"
    "                          time.monotonic()); default: in half a second\n"
    "  --start-wall T          start the ramp at T, seconds since the epoch\n"
    "  --user-agent TEXT       (default radiod-swarm/1.0)\n"
    "  --json FILE             write the JSON summary here (default: standard output)\n"
    "  --keep-columns          per-listener figures in the JSON\n"
    "  --quiet                 no human summary on standard error\n"
    "  -h, --help              this text\n";

static double number_argument(const char *name, const char *text)
{
    char *end;
    errno = 0;
    double value = strtod(text, &end);
    if (errno || end == text || *end)
        die("%s: not a number: %s", name, text);
    return value;
}

static void parse_url(struct options *o, const char *url)
{
    static char host[256], path[512];
    const char *rest = url;
    if (strncmp(rest, "http://", 7) == 0)
        rest += 7;
    size_t host_length = strcspn(rest, ":/");
    if (host_length == 0 || host_length >= sizeof host)
        die("--url: no host in %s", url);
    memcpy(host, rest, host_length);
    host[host_length] = 0;
    o->host = host;
    rest += host_length;
    o->port = 80;
    if (*rest == ':') {
        o->port = (int)strtol(rest + 1, (char **)&rest, 10);
    }
    snprintf(path, sizeof path, "%s", *rest ? rest : "/");
    o->path = path;
}

static void parse_options(struct options *o, int argc, char **argv)
{
    enum {
        HOST = 256, PORT, PATH, URL, METADATA, NO_METADATA, WARMUP, WINDOW, NOMINAL, FULL_RATE,
        READ_INTERVAL, BUCKET, CONNECT_TIMEOUT, FIRST_BYTE_TIMEOUT, SOURCES, CHURN, DURATION,
        START_AT, START_WALL, JSON, KEEP_COLUMNS, QUIET, USER_AGENT
    };
    static const struct option long_options[] = {
        {"host", required_argument, 0, HOST},
        {"port", required_argument, 0, PORT},
        {"path", required_argument, 0, PATH},
        {"url", required_argument, 0, URL},
        {"listeners", required_argument, 0, 'n'},
        {"rate", required_argument, 0, 'r'},
        {"metadata", no_argument, 0, METADATA},
        {"no-metadata", no_argument, 0, NO_METADATA},
        {"warmup", required_argument, 0, WARMUP},
        {"window", required_argument, 0, WINDOW},
        {"nominal-kbps", required_argument, 0, NOMINAL},
        {"full-rate", required_argument, 0, FULL_RATE},
        {"processes", required_argument, 0, 'P'},
        {"read-interval", required_argument, 0, READ_INTERVAL},
        {"bucket", required_argument, 0, BUCKET},
        {"connect-timeout", required_argument, 0, CONNECT_TIMEOUT},
        {"first-byte-timeout", required_argument, 0, FIRST_BYTE_TIMEOUT},
        {"source-addresses", required_argument, 0, SOURCES},
        {"churn-rate", required_argument, 0, CHURN},
        {"duration", required_argument, 0, DURATION},
        {"start-at", required_argument, 0, START_AT},
        {"start-wall", required_argument, 0, START_WALL},
        {"json", required_argument, 0, JSON},
        {"keep-columns", no_argument, 0, KEEP_COLUMNS},
        {"quiet", no_argument, 0, QUIET},
        {"user-agent", required_argument, 0, USER_AGENT},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    *o = (struct options){
        .host = "127.0.0.1", .port = 8000, .path = "/stream", .listeners = 100, .rate = 100.0,
        .metadata = 1, .warmup = 5.0, .window = 30.0, .full_rate = 0.95, .bucket = 5.0,
        .connect_timeout = 10.0, .first_byte_timeout = 15.0, .source_addresses = 8,
        .duration = 600.0, .user_agent = "radiod-swarm/1.0",
    };
    int c;
    while ((c = getopt_long(argc, argv, "n:r:P:h", long_options, NULL)) != -1) {
        switch (c) {
        case HOST: o->host = optarg; break;
        case PORT: o->port = (int)number_argument("--port", optarg); break;
        case PATH: o->path = optarg; break;
        case URL: parse_url(o, optarg); break;
        case 'n': o->listeners = (long)number_argument("--listeners", optarg); break;
        case 'r': o->rate = number_argument("--rate", optarg); break;
        case METADATA: o->metadata = 1; break;
        case NO_METADATA: o->metadata = 0; break;
        case WARMUP: o->warmup = number_argument("--warmup", optarg); break;
        case WINDOW: o->window = number_argument("--window", optarg); break;
        case NOMINAL: o->nominal_kbps = number_argument("--nominal-kbps", optarg); break;
        case FULL_RATE: o->full_rate = number_argument("--full-rate", optarg); break;
        case 'P': o->processes = (int)number_argument("--processes", optarg); break;
        case READ_INTERVAL: o->read_interval = number_argument("--read-interval", optarg); break;
        case BUCKET: o->bucket = number_argument("--bucket", optarg); break;
        case CONNECT_TIMEOUT:
            o->connect_timeout = number_argument("--connect-timeout", optarg);
            break;
        case FIRST_BYTE_TIMEOUT:
            o->first_byte_timeout = number_argument("--first-byte-timeout", optarg);
            break;
        case SOURCES:
            o->source_addresses = (int)number_argument("--source-addresses", optarg);
            break;
        case CHURN: o->churn_rate = number_argument("--churn-rate", optarg); break;
        case DURATION: o->duration = number_argument("--duration", optarg); break;
        case START_AT: o->start_at = number_argument("--start-at", optarg); break;
        case START_WALL: o->start_wall = number_argument("--start-wall", optarg); break;
        case JSON: o->json = optarg; break;
        case KEEP_COLUMNS: o->keep_columns = 1; break;
        case QUIET: o->quiet = 1; break;
        case USER_AGENT: o->user_agent = optarg; break;
        case 'h': fputs(USAGE, stdout); exit(0);
        default: fputs(USAGE, stderr); exit(2);
        }
    }
    if (optind < argc)
        die("unexpected argument: %s", argv[optind]);
    if (o->listeners < 1 || o->rate <= 0)
        die("--listeners and --rate must be positive");
    if (o->window <= 0 || o->bucket <= 0 || o->full_rate <= 0)
        die("--window, --bucket and --full-rate must be positive");
    if (o->processes <= 0)
        o->processes = 1;
    if (o->processes > o->listeners)
        o->processes = (int)o->listeners;
    if (o->read_interval <= 0) {
        double interval = (double)o->listeners / 60000.0;
        o->read_interval = interval < 0.02 ? 0.02 : interval > 0.25 ? 0.25 : interval;
    }
    if (o->source_addresses < 1)
        o->source_addresses = 1;
    if (o->churn_rate < 0)
        die("--churn-rate must not be negative");
}

static void resolve(struct plan *p)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *found;
    char port[16];
    snprintf(port, sizeof port, "%d", p->o.port);
    int code = getaddrinfo(p->o.host, port, &hints, &found);
    if (code != 0)
        die("cannot resolve %s: %s", p->o.host, gai_strerror(code));
    struct addrinfo *chosen = found;
    for (struct addrinfo *a = found; a; a = a->ai_next)
        if (a->ai_family == AF_INET) {
            chosen = a;
            break;
        }
    memcpy(&p->address, chosen->ai_addr, chosen->ai_addrlen);
    p->address_length = chosen->ai_addrlen;
    freeaddrinfo(found);
    int length = snprintf(p->request, sizeof p->request,
                          "GET %s HTTP/1.0\r\n"
                          "Host: %s:%d\r\n"
                          "User-Agent: %s\r\n"
                          "Accept: */*\r\n"
                          "%s\r\n",
                          p->o.path, p->o.host, p->o.port, p->o.user_agent,
                          p->o.metadata ? "Icy-MetaData: 1\r\n" : "");
    if (length < 0 || (size_t)length >= sizeof p->request)
        die("the request is too long");
    p->request_length = (size_t)length;
}

static long raise_fd_limit(long wanted)
{
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    if ((long)limit.rlim_cur >= wanted)
        return (long)limit.rlim_cur;
    struct rlimit raised = {(rlim_t)wanted,
                            limit.rlim_max > (rlim_t)wanted ? limit.rlim_max : (rlim_t)wanted};
    if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
        raised.rlim_cur = raised.rlim_max = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &raised);
    }
    getrlimit(RLIMIT_NOFILE, &limit);
    return (long)limit.rlim_cur;
}

static volatile sig_atomic_t interrupted;

static void on_signal(int signum)
{
    interrupted = signum;
}

int main(int argc, char **argv)
{
    struct plan p = {0};
    parse_options(&p.o, argc, argv);
    resolve(&p);
    signal(SIGPIPE, SIG_IGN);
    double now = monotonic();
    if (p.o.start_at > 0)
        p.start_at = p.o.start_at;
    else if (p.o.start_wall > 0)
        p.start_at = now + (p.o.start_wall - wall_clock());
    else
        p.start_at = now + 0.5;
    p.shards = p.o.processes;
    p.churn = p.o.churn_rate > 0;
    p.ramp_end = p.start_at + (double)p.o.listeners / p.o.rate;
    if (p.churn) {
        p.window_start = p.ramp_end;
        p.window_end = p.ramp_end + p.o.duration;
        p.n_buckets = 0;
    } else {
        p.window_start = p.ramp_end + p.o.warmup;
        p.window_end = p.window_start + p.o.window;
        p.n_buckets = (int)(p.o.window / p.o.bucket) + 2;
    }
    p.base = allocate(sizeof(long) * (size_t)p.shards);
    p.count = allocate(sizeof(long) * (size_t)p.shards);
    p.churn_total = allocate(sizeof(long) * (size_t)p.shards);
    long most = 0;
    for (int s = 0; s < p.shards; s++) {
        p.count[s] = p.o.listeners / p.shards + (s < p.o.listeners % p.shards ? 1 : 0);
        p.churn_total[s] =
            p.churn ? (long)(p.o.churn_rate * p.o.duration / (double)p.shards) : 0;
        p.base[s] = p.total;
        p.total += p.count[s] + p.churn_total[s];
        if (p.count[s] > most)
            most = p.count[s];
    }
    p.listeners = shared(sizeof(struct listener) * (size_t)p.total);
    size_t bucket_slots = (size_t)p.total * (size_t)(p.n_buckets ? p.n_buckets : 1);
    p.buckets = shared(sizeof(uint32_t) * bucket_slots);
    p.results = shared(sizeof(struct shard_result) * (size_t)p.shards);
    long wanted = most + 64;
    long limit = raise_fd_limit(most + 256);
    for (int s = 0; s < p.shards; s++) {
        p.results[s].fd_limit = limit;
        p.results[s].fd_wanted = wanted;
    }

    struct sigaction action = {0};
    action.sa_handler = on_signal;
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    pid_t parent = getpid();
    pid_t *children = allocate(sizeof(pid_t) * (size_t)p.shards);
    fflush(NULL);
    for (int s = 0; s < p.shards; s++) {
        pid_t child = fork();
        if (child < 0)
            die("fork: %s", strerror(errno));
        if (child == 0) {
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_DFL);
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent)
                _exit(1);
            run_shard(&p, s);
            _exit(0);
        }
        children[s] = child;
    }
    int failed = 0;
    for (int waiting = p.shards; waiting > 0;) {
        int status;
        pid_t done = interrupted ? -1 : waitpid(-1, &status, 0);
        if (interrupted)
            errno = EINTR;
        if (done < 0) {
            if (errno == EINTR && interrupted) {
                for (int s = 0; s < p.shards; s++)
                    kill(children[s], SIGTERM);
                while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
                    ;
                return 128 + (int)interrupted;
            }
            if (errno == EINTR)
                continue;
            break;
        }
        waiting--;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed = 1;
    }
    if (failed)
        die("a listener process failed");
    struct rusage self, children_usage;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children_usage);
    double user = seconds(self.ru_utime) + seconds(children_usage.ru_utime);
    double system = seconds(self.ru_stime) + seconds(children_usage.ru_stime);
    out = stdout;
    if (p.o.json) {
        out = fopen(p.o.json, "w");
        if (out == NULL)
            die("cannot write %s: %s", p.o.json, strerror(errno));
    }
    summarise(&p, user, system);
    if (fclose(out) != 0)
        die("cannot write the summary: %s", strerror(errno));
    return 0;
}
