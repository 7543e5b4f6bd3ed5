/*
 * berth-netns-connect: one TCP connection made from inside a network namespace, relayed over stdio.
 *
 *   berth-netns-connect NETNS_PATH PORT
 *
 * Joins the network namespace at NETNS_PATH (a pod's: /proc/<infra pid>/ns/net), connects to 127.0.0.1:PORT
 * there, and copies stdin to the socket and the socket to stdout until the socket's side ends; stdin's end is
 * passed on as a half-close (shutdown SHUT_WR), as a port-forward's client expects. This is what kubelet's
 * port forwarding does for a pod: the pod's localhost, so a server listening only on 127.0.0.1 is reached too.
 * A program of its own because a Node process cannot move one of its threads into another network namespace.
 * Once connected it says so on stderr ("ok", one line), so that its starter knows before any data flows.
 * Exit status: 0 after a clean end, 2 for bad arguments, 3 when the namespace cannot be joined, 4 when the
 * connection is refused (its reason on stderr, one line).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Copy what one read gives: 1 when something was copied, 0 at the end, -1 when the writer is gone. */
static int copy_once(int from, int to) {
  char buf[65536];
  ssize_t n = read(from, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
  if (n <= 0) return 0;
  for (ssize_t off = 0; off < n;) {
    ssize_t w = write(to, buf + off, (size_t)(n - off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    off += w;
  }
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: berth-netns-connect NETNS_PATH PORT\n");
    return 2;
  }
  char *end = NULL;
  long port = strtol(argv[2], &end, 10);
  if (!*argv[2] || *end || port < 1 || port > 65535) {
    fprintf(stderr, "invalid port %s\n", argv[2]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int ns = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) {
    fprintf(stderr, "cannot join the network namespace %s: %s\n", argv[1], strerror(errno));
    return 3;
  }
  close(ns);
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof addr) < 0) {
    fprintf(stderr, "connecting to port %ld in the pod: %s\n", port, strerror(errno));
    return 4;
  }
  if (write(2, "ok\n", 3) != 3) return 4;
  int in_open = 1, out_open = 1;
  while (out_open) {
    struct pollfd p[2] = {{.fd = in_open ? 0 : -1, .events = POLLIN}, {.fd = s, .events = POLLIN}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (in_open && (p[0].revents & (POLLIN | POLLHUP | POLLERR)) && copy_once(0, s) <= 0) {
      in_open = 0;
      shutdown(s, SHUT_WR);
    }
    if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) && copy_once(s, 1) <= 0) out_open = 0;
  }
  close(s);
  return 0;
}
