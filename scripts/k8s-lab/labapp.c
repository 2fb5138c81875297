/* labapp: the runbook's workloads for the Kubernetes lab's pods, as one small static binary
 * (the lab has no registry and no language runtime in its images).
 *   labapp idle                              wait for SIGTERM (a pod's main process)
 *   labapp request HOST PORT SECONDS reset   one request, idle SECONDS, then reset (SO_LINGER 0)
 *   labapp request HOST PORT SECONDS wait    one request, then wait up to SECONDS for a close or reset
 *   labapp connect HOST PORT                 one connection attempt
 *   labapp udp HOST PORT COUNT RATE          COUNT datagrams of 64 bytes, RATE per second (0: as fast as it can)
 *   labapp serve PORT                        answer each connection's request with one response, keep it open
 *                                            until the client closes (a Service's backend), until SIGTERM
 * HOST is a dotted IPv4 address. Exit 0 when the scenario ran as written. */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t stopping = 0;
static void on_term(int sig) { (void)sig; stopping = 1; }

static int dial(const char *host, const char *port) {
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port))};
    if (inet_pton(AF_INET, host, &to.sin_addr) != 1) { fprintf(stderr, "labapp: %s is not an IPv4 address\n", host); exit(2); }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval timeout = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0) { perror("labapp: connect"); close(fd); return -1; }
    return fd;
}

int main(int argc, char **argv) {
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    if (argc >= 2 && strcmp(argv[1], "idle") == 0) {
        while (!stopping) pause();
        return 0;
    }
    if (argc >= 6 && strcmp(argv[1], "request") == 0) {
        int fd = dial(argv[2], argv[3]);
        if (fd < 0) return 1;
        const char request[] = "GET /orders HTTP/1.1\r\nHost: api.example.test\r\n\r\n";
        char buffer[4096];
        if (write(fd, request, sizeof request - 1) < 0 || read(fd, buffer, sizeof buffer) <= 0) { perror("labapp: request"); return 1; }
        int seconds = atoi(argv[4]);
        if (strcmp(argv[5], "reset") == 0) {
            for (int i = 0; i < seconds * 10 && !stopping; i++) usleep(100000);
            struct linger abort_now = {.l_onoff = 1, .l_linger = 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_now, sizeof abort_now);
            close(fd);
            return 0;
        }
        struct timeval timeout = {.tv_sec = seconds};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        ssize_t got = read(fd, buffer, sizeof buffer);
        printf("labapp: the far end %s\n", got == 0 ? "closed" : got < 0 ? "reset or timed out" : "sent more");
        close(fd);
        return 0;
    }
    if (argc >= 4 && strcmp(argv[1], "connect") == 0) {
        int fd = dial(argv[2], argv[3]);
        if (fd >= 0) close(fd);
        return 0;
    }
    if (argc >= 6 && strcmp(argv[1], "udp") == 0) {  /* bounded traffic for benchmarks: COUNT packets, then exit */
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[3]))};
        if (inet_pton(AF_INET, argv[2], &to.sin_addr) != 1) { fprintf(stderr, "labapp: %s is not an IPv4 address\n", argv[2]); return 2; }
        long count = atol(argv[4]), rate = atol(argv[5]), sent = 0;
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        char payload[64] = {0};
        struct timeval start, now;
        gettimeofday(&start, NULL);
        for (long i = 0; i < count && !stopping; i++) {
            if (sendto(fd, payload, sizeof payload, 0, (struct sockaddr *)&to, sizeof to) == sizeof payload) sent++;
            if (rate > 0) {
                gettimeofday(&now, NULL);
                long due = (long)((i + 1) * 1000000.0 / rate);
                long elapsed = (now.tv_sec - start.tv_sec) * 1000000L + (now.tv_usec - start.tv_usec);
                if (due > elapsed) usleep((useconds_t)(due - elapsed));
            }
        }
        gettimeofday(&now, NULL);
        printf("labapp: sent %ld datagrams in %.3f s\n", sent, (now.tv_sec - start.tv_sec) + (now.tv_usec - start.tv_usec) / 1e6);
        close(fd);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "serve") == 0) {
        signal(SIGCHLD, SIG_IGN);  /* children reaped by the kernel */
        struct sockaddr_in at = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
        int listener = socket(AF_INET, SOCK_STREAM, 0), on = 1;
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (bind(listener, (struct sockaddr *)&at, sizeof at) != 0 || listen(listener, 16) != 0) { perror("labapp: serve"); return 1; }
        while (!stopping) {
            int fd = accept(listener, NULL, NULL);
            if (fd < 0) continue;
            if (fork() == 0) {
                char buffer[4096];
                const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
                if (read(fd, buffer, sizeof buffer) > 0 && write(fd, response, sizeof response - 1) > 0)
                    while (read(fd, buffer, sizeof buffer) > 0) {}
                _exit(0);
            }
            close(fd);
        }
        return 0;
    }
    fprintf(stderr, "usage: labapp idle | request HOST PORT SECONDS reset|wait | connect HOST PORT | udp HOST PORT COUNT RATE | serve PORT\n");
    return 2;
}
