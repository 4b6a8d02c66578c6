/* The floor of an HTTP probe: what the kernel and a minimal client need for one fresh-connection
 * probe. Sequentially, N times: socket, connect to 127.0.0.1:PORT, write one GET, read until the
 * server closes, close. No HTTP library, no parsing beyond counting the status line.
 * Prints "probes=N ok=K cpu_us=C" (K = answers starting with "HTTP/1.1 200"; C = its own user +
 * system CPU time from getrusage).
 * bench/http_probe_cost.sh compiles it (gcc -O2) and measures its CPU per probe from /proc, as it
 * does for shipwatch and blackbox_exporter, to print shipwatch's CPU per probe as a multiple of it.
 * Usage: floor PORT N */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: floor PORT N\n");
        return 2;
    }
    int port = atoi(argv[1]);
    long n = atol(argv[2]), ok = 0;
    static const char req[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: floor\r\nAccept: */*\r\n\r\n";
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char buf[4096];
    for (long i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
            perror("connect");
            return 1;
        }
        if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
            perror("write");
            return 1;
        }
        ssize_t got, total = 0;
        int first = 1;
        while ((got = read(fd, buf, sizeof buf)) > 0) {
            if (first && got >= 12 && memcmp(buf, "HTTP/1.1 200", 12) == 0) ok++;
            first = 0;
            total += got;
        }
        close(fd);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long cpu_us = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
    printf("probes=%ld ok=%ld cpu_us=%ld\n", n, ok, cpu_us);
    return ok == n ? 0 : 1;
}
