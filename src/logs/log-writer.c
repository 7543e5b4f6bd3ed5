/*
 * berth-log-writer: docker's json-file and local log formats, written from conmon's output.
 *
 * conmon 2.1 writes a container's output only as k8s-file (or to journald). For the json-file and local
 * drivers the engine points conmon's k8s-file log at a FIFO and starts this program on the FIFO's other
 * end: it turns each record (`<RFC3339Nano> <stdout|stderr> <F|P> <bytes>`) into docker's format, writes
 * it to the log file, and rotates and compresses the files as docker's `max-size`, `max-file` and
 * `compress` say. It is a small static program, not a Node process, because one runs beside every
 * container's monitor for as long as the container runs.
 *
 *   berth-log-writer --format json-file|local --fifo FIFO --path FILE --pid-file FILE [--parent PID]
 *                    [--max-size BYTES] [--max-file N] [--compress] [--attrs JSON] [--attr KEY=VALUE]...
 *
 * --attrs is the JSON object json-file writes with every record; --attr the same pairs for local.
 * It makes the FIFO itself and says "ready" on stdout once conmon may open it.
 * The pid file exists while records may still be on their way to the log file: readers that saw the
 * container exit wait for it to go (src/logs/writer.ts), so they do not miss the last lines.
 * Lifetime: it waits for conmon to open the FIFO (for at most OPEN_TIMEOUT_S), then copies until conmon
 * closes it (conmon's exit), then waits for the last compression and exits.
 *
 * conmon opens its log before anything else and that open blocks while a FIFO has no reader, so the
 * writer holds the FIFO open for reading from before it says "ready" until it exits: a conmon whose
 * starter was killed never waits on it. If the starter dies before conmon came (SIGHUP, its death
 * signal), the writer waits GRACE_S more for a conmon already on its way, then removes the FIFO (a later
 * conmon makes a plain file and goes on) and leaves.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OPEN_TIMEOUT_S 120
#define GRACE_S 2

enum format { JSON_FILE, LOCAL };

static enum format fmt = JSON_FILE;
static const char *fifo_path, *log_path, *pid_path, *attrs_json;
static long long max_size = -1; /* bytes; -1: never rotate */
static int max_file = 1;
static int compress_rotated;
static char **attr_keys, **attr_values;
static int attr_count;
static pid_t parent_pid;

static int log_fd = -1;
static long long log_size;
static pid_t gzip_pid = -1;

/* A growable byte buffer. */
struct buf {
	char *p;
	size_t len, cap;
};

static void reserve(struct buf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	b->p = realloc(b->p, cap);
	if (!b->p) {
		perror("berth-log-writer: realloc");
		exit(1);
	}
	b->cap = cap;
}

static void put(struct buf *b, const void *s, size_t n)
{
	reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void putc_(struct buf *b, char c) { put(b, &c, 1); }
static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

static void die(const char *what)
{
	fprintf(stderr, "berth-log-writer: %s: %s\n", what, strerror(errno));
	if (pid_path)
		unlink(pid_path);
	exit(1);
}

static int open_log(void)
{
	int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		die(log_path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		die(log_path);
	log_size = st.st_size;
	return fd;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			/* A full disk loses records, as docker's writer does; the container keeps running. */
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void wait_gzip(void)
{
	if (gzip_pid > 0) {
		while (waitpid(gzip_pid, NULL, 0) < 0 && errno == EINTR)
			;
		gzip_pid = -1;
	}
}

/* path.N, with .gz when rotated files are compressed. */
static void rotated_name(char *out, size_t size, int n, int gz)
{
	snprintf(out, size, "%s.%d%s", log_path, n, gz ? ".gz" : "");
}

/*
 * docker's rotation: with one file the log starts over; otherwise the oldest goes, each other moves up one
 * (FILE.1 → FILE.2 …), the current one becomes FILE.1 and, with compress, is gzipped in the background.
 */
static void rotate(void)
{
	if (max_file < 2) {
		if (ftruncate(log_fd, 0) < 0)
			die(log_path);
		log_size = 0;
		return;
	}
	wait_gzip(); /* the previous FILE.1 must be FILE.1.gz before it moves */
	char from[4096], to[4096];
	rotated_name(to, sizeof to, max_file - 1, compress_rotated);
	unlink(to);
	for (int i = max_file - 2; i >= 1; i--) {
		rotated_name(from, sizeof from, i, compress_rotated);
		rotated_name(to, sizeof to, i + 1, compress_rotated);
		rename(from, to);
	}
	rotated_name(to, sizeof to, 1, 0);
	if (rename(log_path, to) < 0)
		die("rotate");
	close(log_fd);
	log_fd = open_log();
	if (compress_rotated) {
		pid_t p = fork();
		if (p == 0) {
			int null = open("/dev/null", O_RDWR);
			dup2(null, 0);
			dup2(null, 1);
			execl("/bin/gzip", "gzip", "-f", "-n", to, (char *)NULL);
			_exit(127);
		}
		gzip_pid = p;
	}
}

/*
 * Records are gathered and written once per read of the FIFO (conmon hands over up to 64 KiB at a time),
 * not once per line: a write(2) per line was most of the writer's time.
 */
static struct buf batch;

static void flush(void)
{
	if (batch.len == 0)
		return;
	write_all(log_fd, batch.p, batch.len);
	log_size += (long long)batch.len;
	batch.len = 0;
}

/* docker's rule: a file at or over max-size is rotated before the next record goes in. */
static void write_record(const char *p, size_t n)
{
	if (max_size > 0 && log_size + (long long)batch.len >= max_size) {
		flush();
		rotate();
	}
	put(&batch, p, n);
}

/* JSON string escaping as docker's json-file writes it (HTML-safe, invalid UTF-8 as U+FFFD). */
static void put_json_string(struct buf *b, const unsigned char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	putc_(b, '"');
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		if (c < 0x80) {
			if (c >= 0x20 && c != '\\' && c != '"' && c != '<' && c != '>' && c != '&') {
				size_t run = i + 1;
				while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '\\' && s[run] != '"' && s[run] != '<' && s[run] != '>' && s[run] != '&')
					run++;
				put(b, s + i, run - i);
				i = run;
				continue;
			} else if (c == '\\' || c == '"') {
				putc_(b, '\\');
				putc_(b, (char)c);
			} else if (c == '\n') {
				puts_(b, "\\n");
			} else if (c == '\r') {
				puts_(b, "\\r");
			} else {
				char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
				puts_(b, u);
			}
			i++;
			continue;
		}
		/* A UTF-8 sequence: its length from the lead byte, every continuation byte checked. */
		size_t len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
		int ok = len > 0 && i + len <= n;
		uint32_t cp = 0;
		if (ok) {
			cp = len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
			for (size_t k = 1; k < len; k++) {
				if ((s[i + k] & 0xc0) != 0x80) {
					ok = 0;
					break;
				}
				cp = (cp << 6) | (s[i + k] & 0x3f);
			}
		}
		/* Overlong forms, surrogates and values past U+10FFFF are not UTF-8 either. */
		if (ok && ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))))
			ok = 0;
		if (!ok) {
			puts_(b, "\\ufffd");
			i++;
			continue;
		}
		if (cp == 0x2028 || cp == 0x2029) {
			puts_(b, cp == 0x2028 ? "\\u2028" : "\\u2029");
		} else {
			put(b, s + i, len);
		}
		i += len;
	}
	putc_(b, '"');
}

/* Go's RFC 3339 with nanoseconds, in UTC: trailing zeros of the fraction dropped, no fraction if zero. */
static void put_time(struct buf *b, time_t sec, long nsec)
{
	struct tm tm;
	gmtime_r(&sec, &tm);
	char s[64];
	int n = snprintf(s, sizeof s, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (nsec > 0) {
		char frac[24];
		snprintf(frac, sizeof frac, ".%09ld", nsec);
		size_t f = strlen(frac);
		while (frac[f - 1] == '0')
			frac[--f] = 0;
		n += snprintf(s + n, sizeof s - (size_t)n, "%s", frac);
	}
	snprintf(s + n, sizeof s - (size_t)n, "Z");
	puts_(b, s);
}

/* Protocol buffers: a varint, and a length-delimited field. */
static void put_varint(struct buf *b, uint64_t v)
{
	while (v >= 0x80) {
		putc_(b, (char)(v | 0x80));
		v >>= 7;
	}
	putc_(b, (char)v);
}

static void put_bytes_field(struct buf *b, int field, const void *p, size_t n)
{
	put_varint(b, ((uint64_t)field << 3) | 2);
	put_varint(b, n);
	put(b, p, n);
}

/*
 * conmon's record time, `2026-12-06T14:53:52.123456789+01:00`, as seconds and nanoseconds since the epoch;
 * 0 when it is not one (the caller then takes the clock's).
 */
static int parse_time(const char *s, size_t n, time_t *sec, long *nsec)
{
	char t[64];
	if (n >= sizeof t)
		return 0;
	memcpy(t, s, n);
	t[n] = 0;
	struct tm tm = {0};
	int consumed = 0;
	if (sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6)
		return 0;
	const char *p = t + consumed;
	long ns = 0;
	if (*p == '.') {
		int digits = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 9)
				ns = ns * 10 + (*p - '0');
		for (; digits < 9; digits++)
			ns *= 10;
	}
	long offset = 0;
	if (*p == '+' || *p == '-') {
		int hh, mm;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			return 0;
		offset = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
	} else if (*p != 'Z') {
		return 0;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*sec = timegm(&tm) - offset;
	*nsec = ns;
	return 1;
}

static struct buf out;

/* One k8s-file record (its line without the newline) in the log file's format. */
static void convert(const char *line, size_t n)
{
	const char *s1 = memchr(line, ' ', n);
	if (!s1)
		return;
	const char *s2 = memchr(s1 + 1, ' ', (size_t)(line + n - s1 - 1));
	if (!s2)
		return;
	const char *s3 = memchr(s2 + 1, ' ', (size_t)(line + n - s2 - 1));
	const char *data = s3 ? s3 + 1 : line + n;
	size_t data_len = (size_t)(line + n - data);
	const char *stream = s1 + 1;
	size_t stream_len = (size_t)(s2 - stream);
	int partial = s2[1] == 'P' && (s2 + 2 == line + n || s2[2] == ' ');

	/* conmon stamps every line of one read alike: parse and format a stamp once, reuse it while it repeats. */
	static char last_stamp[64];
	static size_t last_stamp_len;
	static time_t sec;
	static long nsec;
	static struct buf formatted;
	size_t stamp_len = (size_t)(s1 - line);
	if (stamp_len == 0 || stamp_len >= sizeof last_stamp || stamp_len != last_stamp_len || memcmp(line, last_stamp, stamp_len) != 0) {
		if (!parse_time(line, stamp_len, &sec, &nsec)) {
			struct timespec now;
			clock_gettime(CLOCK_REALTIME, &now);
			sec = now.tv_sec;
			nsec = now.tv_nsec;
		}
		if (stamp_len < sizeof last_stamp) {
			memcpy(last_stamp, line, stamp_len);
			last_stamp_len = stamp_len;
		}
		formatted.len = 0;
		put_time(&formatted, sec, nsec);
	}

	out.len = 0;
	if (fmt == JSON_FILE) {
		/* {"log":…,"stream":…,"attrs":…,"time":…}: docker's key order; a whole line keeps its newline. */
		puts_(&out, "{");
		if (data_len > 0 || !partial) {
			static struct buf text;
			text.len = 0;
			put(&text, data, data_len);
			if (!partial)
				putc_(&text, '\n');
			puts_(&out, "\"log\":");
			put_json_string(&out, (const unsigned char *)text.p, text.len);
			puts_(&out, ",");
		}
		puts_(&out, "\"stream\":");
		put_json_string(&out, (const unsigned char *)stream, stream_len);
		if (attrs_json) {
			puts_(&out, ",\"attrs\":");
			puts_(&out, attrs_json);
		}
		puts_(&out, ",\"time\":\"");
		put(&out, formatted.p, formatted.len);
		puts_(&out, "\"}\n");
	} else {
		/* A LogEntry message, framed by its size (big-endian, 4 bytes) before and after. */
		static struct buf msg;
		msg.len = 0;
		put_bytes_field(&msg, 1, stream, stream_len);
		put_varint(&msg, (2 << 3) | 0);
		put_varint(&msg, (uint64_t)((int64_t)sec * 1000000000LL + nsec));
		if (data_len > 0)
			put_bytes_field(&msg, 3, data, data_len);
		if (partial) {
			put_varint(&msg, (4 << 3) | 0);
			put_varint(&msg, 1);
		}
		for (int i = 0; i < attr_count; i++) {
			static struct buf attr;
			attr.len = 0;
			put_bytes_field(&attr, 1, attr_keys[i], strlen(attr_keys[i]));
			put_bytes_field(&attr, 2, attr_values[i], strlen(attr_values[i]));
			put_bytes_field(&msg, 6, attr.p, attr.len);
		}
		unsigned char size[4] = {(unsigned char)(msg.len >> 24), (unsigned char)(msg.len >> 16), (unsigned char)(msg.len >> 8), (unsigned char)msg.len};
		put(&out, size, 4);
		put(&out, msg.p, msg.len);
		put(&out, size, 4);
	}
	write_record(out.p, out.len);
}

static void usage(void)
{
	fprintf(stderr, "usage: berth-log-writer --format json-file|local --fifo FIFO --path FILE --pid-file FILE [--parent PID] "
			"[--max-size BYTES] [--max-file N] [--compress] [--attrs JSON] [--attr KEY=VALUE]...\n");
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	attr_keys = calloc((size_t)argc, sizeof *attr_keys);
	attr_values = calloc((size_t)argc, sizeof *attr_values);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--compress")) {
			compress_rotated = 1;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--format")) {
			if (!strcmp(v, "json-file"))
				fmt = JSON_FILE;
			else if (!strcmp(v, "local"))
				fmt = LOCAL;
			else
				usage();
		} else if (!strcmp(a, "--fifo")) {
			fifo_path = v;
		} else if (!strcmp(a, "--path")) {
			log_path = v;
		} else if (!strcmp(a, "--pid-file")) {
			pid_path = v;
		} else if (!strcmp(a, "--max-size")) {
			max_size = atoll(v);
		} else if (!strcmp(a, "--max-file")) {
			max_file = atoi(v);
		} else if (!strcmp(a, "--parent")) {
			parent_pid = (pid_t)atoi(v);
		} else if (!strcmp(a, "--attrs")) {
			attrs_json = v;
		} else if (!strcmp(a, "--attr")) {
			const char *eq = strchr(v, '=');
			if (!eq)
				usage();
			attr_keys[attr_count] = strndup(v, (size_t)(eq - v));
			attr_values[attr_count++] = strdup(eq + 1);
		} else {
			usage();
		}
	}
	if (!fifo_path || !log_path || !pid_path)
		usage();
}

/* SIGTERM: the engine gave up on the create (or on the container); the pid file goes with the writer. */
static void on_term(int sig)
{
	(void)sig;
	unlink(pid_path);
	_exit(0);
}

static volatile sig_atomic_t parent_gone;

/* SIGHUP, the starter's death signal while conmon has not come. Its EINTR ends the wait's open. */
static void on_parent_gone(int sig)
{
	(void)sig;
	parent_gone = 1;
}

/* SIGALRM ticks while the writer waits: each interrupts the open so the wait looks at the clock again. */
static void on_tick(int sig)
{
	(void)sig;
}

static void handle(int sig, void (*fn)(int))
{
	struct sigaction sa = {0};
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: a signal must end a blocking open */
	sigaction(sig, &sa, NULL);
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A writer came and wrote, or came and went, since `in` was opened. */
static int came_and_went(int in)
{
	struct pollfd p = {.fd = in, .events = POLLIN};
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP));
}

/*
 * Wait until conmon has opened the FIFO that `in` reads (1), or it will not come (0). A blocking open
 * for reading returns at once while the FIFO has a writer and otherwise when the next one opens it, so
 * reopening `in` through /proc tells when conmon is there; a conmon that came and already left shows on
 * `in` itself. Ticks every 250 ms interrupt the open to check the deadlines.
 */
static int wait_for_monitor(int in)
{
	char self[64];
	snprintf(self, sizeof self, "/proc/self/fd/%d", in);
	struct itimerval tick = {{0, 250000}, {0, 250000}}, off = {{0, 0}, {0, 0}};
	handle(SIGALRM, on_tick);
	setitimer(ITIMER_REAL, &tick, NULL);
	double give_up = now_s() + OPEN_TIMEOUT_S, removed = 0;
	int found = 0;
	for (;;) {
		if (came_and_went(in)) {
			found = 1;
			break;
		}
		double t = now_s();
		if (parent_gone && give_up > t + GRACE_S)
			give_up = t + GRACE_S;
		if (t >= give_up) {
			if (removed == 0) {
				/* From here no open of the path reaches this FIFO; one already under way gets a last second. */
				unlink(fifo_path);
				removed = t;
			} else if (t >= removed + 1) {
				break;
			}
		}
		int fd = open(self, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			found = 1;
			break;
		}
		if (errno != EINTR)
			break;
	}
	setitimer(ITIMER_REAL, &off, NULL);
	return found;
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	handle(SIGTERM, on_term);
	handle(SIGHUP, on_parent_gone);

	/* Until conmon has opened the FIFO, the starter's death is news: see wait_for_monitor. */
	if (parent_pid > 0) {
		prctl(PR_SET_PDEATHSIG, SIGHUP);
		if (getppid() != parent_pid)
			return 0; /* it died before this could watch it: it never got "ready", so no conmon comes */
	}

	char pid[32];
	int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	int pfd = open(pid_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (pfd < 0)
		die(pid_path);
	write_all(pfd, pid, (size_t)n);
	close(pfd);

	/* The log exists from the start, as docker's does: a follower opens it before the first line. */
	log_fd = open_log();
	/*
	 * Make the FIFO and open its reading end (not blocking: there is no writer yet), then tell the engine
	 * (one line on stdout, which then closes) that conmon may be started on it.
	 */
	unlink(fifo_path);
	if (mkfifo(fifo_path, 0600) < 0)
		die(fifo_path);
	int in = open(fifo_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (in < 0)
		die(fifo_path);
	write_all(1, "ready\n", 6);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	dup2(null, 1);
	dup2(null, 2);
	if (!wait_for_monitor(in)) {
		unlink(pid_path);
		return 0;
	}
	/* conmon has it: from here on the writer lives as long as conmon writes, not as long as its starter. */
	prctl(PR_SET_PDEATHSIG, 0);
	fcntl(in, F_SETFL, fcntl(in, F_GETFL) & ~O_NONBLOCK);

	struct buf pending = {0};
	char chunk[65536];
	for (;;) {
		ssize_t r = read(in, chunk, sizeof chunk);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (r == 0)
			break; /* conmon closed its end: the container's output is all here */
		put(&pending, chunk, (size_t)r);
		size_t start = 0;
		for (;;) {
			char *nl = memchr(pending.p + start, '\n', pending.len - start);
			if (!nl)
				break;
			convert(pending.p + start, (size_t)(nl - (pending.p + start)));
			start = (size_t)(nl - pending.p) + 1;
		}
		memmove(pending.p, pending.p + start, pending.len - start);
		pending.len -= start;
		flush();
	}
	if (pending.len > 0)
		convert(pending.p, pending.len);
	flush();
	wait_gzip();
	close(log_fd);
	unlink(pid_path);
	return 0;
}
