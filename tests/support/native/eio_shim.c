/* An LD_PRELOAD shim that makes writes fail with EIO, as a failing disk does.
 *
 * Off until the file named by $QTRAIN_EIO_TRIGGER exists; then the next $QTRAIN_EIO_FAILS
 * (default 1) writes to files under $QTRAIN_EIO_UNDER fail with EIO, and later ones go
 * through; the first failure creates "$QTRAIN_EIO_TRIGGER.fired". The test harness creates the trigger at a point it chose, from outside the
 * process. write, pwrite, writev and pwritev are interposed: Python's file objects, torch's
 * C++ streams and safetensors' Rust writer all end in one of them.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static int failed;

static int should_fail(int fd) {
    if (fd <= 2) return 0;
    const char *trigger = getenv("QTRAIN_EIO_TRIGGER");
    const char *under = getenv("QTRAIN_EIO_UNDER");
    if (!trigger || !under) return 0;
    const char *fails = getenv("QTRAIN_EIO_FAILS");
    int limit = fails ? atoi(fails) : 1;
    if (__atomic_load_n(&failed, __ATOMIC_SEQ_CST) >= limit) return 0;
    if (access(trigger, F_OK) != 0) return 0;
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 0) return 0;
    path[n] = 0;
    if (strncmp(path, under, strlen(under)) != 0) return 0;
    if (__atomic_fetch_add(&failed, 1, __ATOMIC_SEQ_CST) >= limit) return 0;
    char fired[4096];
    snprintf(fired, sizeof fired, "%s.fired", trigger);
    int marker = open(fired, O_CREAT | O_WRONLY, 0644);  /* says it fired; writes nothing */
    if (marker >= 0) close(marker);
    return 1;
}

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef ssize_t (*pwritev_fn)(int, const struct iovec *, int, off_t);

#define REAL(name, type) static type real_##name; \
    if (!real_##name) real_##name = (type)dlsym(RTLD_NEXT, #name)

ssize_t write(int fd, const void *buf, size_t count) {
    REAL(write, write_fn);
    if (should_fail(fd)) { errno = EIO; return -1; }
    return real_write(fd, buf, count);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    REAL(pwrite, pwrite_fn);
    if (should_fail(fd)) { errno = EIO; return -1; }
    return real_pwrite(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset) {
    REAL(pwrite64, pwrite_fn);
    if (should_fail(fd)) { errno = EIO; return -1; }
    return real_pwrite64(fd, buf, count, offset);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
    REAL(writev, writev_fn);
    if (should_fail(fd)) { errno = EIO; return -1; }
    return real_writev(fd, iov, iovcnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
    REAL(pwritev, pwritev_fn);
    if (should_fail(fd)) { errno = EIO; return -1; }
    return real_pwritev(fd, iov, iovcnt, offset);
}
