/* The escape suite's hostile program: `probe NAME ARGS...` attempts ONE thing and prints one
 * line, `SUCCEEDED` or `REFUSED <ERRNO> [detail]`, then exits 0. Any other outcome (bad
 * arguments, a failed preparation step that is not the attempt itself) prints `ERROR ...`
 * and exits 2, so a broken probe can never pass for a refusal.
 *
 * Built static (`cc -static`) because the sandbox root need not hold the host's libraries.
 * Raw `syscall(SYS_...)` is used where glibc has no wrapper. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/netlink.h>
#include <linux/sched.h>
#include <linux/perf_event.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/* What the `target` mode exposes for process_vm_readv to find. */
static char canary[] = "mycelium-escape-canary";

static int succeeded(void) {
    printf("SUCCEEDED\n");
    return 0;
}

/* The attempt failed with `err`: name it (strerrorname_np, glibc >= 2.32). */
static int refused(int err, const char *detail) {
    const char *name = strerrorname_np(err);
    printf("REFUSED %s%s%s\n", name ? name : "UNKNOWN", detail ? " " : "", detail ? detail : "");
    return 0;
}

/* `rc` is the attempted call's result: -1 means refused with errno. */
static int outcome(long rc) {
    return rc == -1 ? refused(errno, NULL) : succeeded();
}

static int error(const char *what) {
    printf("ERROR %s: %s\n", what, strerror(errno));
    return 2;
}

static int need(int argc, int n) {
    if (argc < n) {
        printf("ERROR missing arguments\n");
        exit(2);
    }
    return 0;
}

/* A host process to aim at: prints its canary's address, then waits to be killed. */
static int target(void) {
    printf("READY %p\n", (void *)canary);
    fflush(stdout);
    for (;;)
        pause();
    return 0;
}

static int do_ptrace(const char *pid_s) {
    pid_t pid = atoi(pid_s);
    if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) == -1)
        return refused(errno, NULL);
    waitpid(pid, NULL, __WALL);
    ptrace(PTRACE_DETACH, pid, NULL, NULL);
    return succeeded();
}

static int do_vm_readv(const char *pid_s, const char *addr_s) {
    char buf[sizeof canary] = {0};
    struct iovec local = {buf, sizeof buf};
    struct iovec remote = {(void *)strtoul(addr_s, NULL, 16), sizeof buf};
    ssize_t n = process_vm_readv(atoi(pid_s), &local, 1, &remote, 1, 0);
    if (n == -1)
        return refused(errno, NULL);
    if (strcmp(buf, canary) != 0) {
        printf("ERROR read %zd bytes that are not the canary\n", n);
        return 2;
    }
    return succeeded();
}

/* Mounts a tmpfs on DIR; when that works (root on the host), unmounts it again at once. */
static int do_mount(const char *dir) {
    if (mount("none", dir, "tmpfs", 0, "size=1m") == -1)
        return refused(errno, NULL);
    umount2(dir, MNT_DETACH);
    return succeeded();
}

static int do_setns(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        return refused(errno, "(open)");
    return outcome(setns(fd, 0));
}

static int do_bpf(void) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    return outcome(syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr));
}

/* A user-space-only software counter on ourselves: allowed at perf_event_paranoid 2. */
static int do_perf(void) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.type = PERF_TYPE_SOFTWARE;
    attr.size = sizeof attr;
    attr.config = PERF_COUNT_SW_TASK_CLOCK;
    attr.disabled = 1;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    return outcome(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
}

static int do_io_uring(void) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    return outcome(syscall(SYS_io_uring_setup, 4, &p));
}

/* UFFD_USER_MODE_ONLY: what an unprivileged caller may ask for (vm.unprivileged_userfaultfd=0). */
static int do_userfaultfd(void) {
    return outcome(syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY));
}

static int do_finit_module(void) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        return error("open /dev/null");
    return outcome(syscall(SYS_finit_module, fd, "", 0));
}

static int do_init_module(void) {
    static char image[64];
    return outcome(syscall(SYS_init_module, image, sizeof image, ""));
}

static int do_kexec_load(void) {
    return outcome(syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0UL));
}

/* Push a character into the terminal on fd 0 as if typed. The probe first makes that
 * terminal its controlling one (setsid, TIOCSCTTY), as an attacker would; those steps may
 * fail (already a session leader), only the injection counts, but the detail of a refusal
 * says whether the terminal had become controlling (`ctty` or `no-ctty`), i.e. whether the
 * injection itself was what got refused. `high` sets bit 32 of the request: ioctl(2)
 * truncates it to an int, a filter comparing all 64 bits does not (CVE-2019-10063). */
static int do_tiocsti(int high) {
    char c = 'x';
    unsigned long req = TIOCSTI;
    setsid();
    int ctty = ioctl(0, TIOCSCTTY, 0) == 0;
    if (high)
        req |= 1UL << 32;
    if (syscall(SYS_ioctl, 0, req, &c) == -1)
        return refused(errno, ctty ? "(ctty)" : "(no-ctty)");
    return succeeded();
}

static int do_open(const char *path, const char *mode) {
    int flags = strcmp(mode, "w") == 0 ? O_WRONLY : O_RDONLY;
    return outcome(open(path, flags | O_CLOEXEC));
}

/* Read PATH: SUCCEEDED only when it yields at least one byte. */
static int do_read(const char *path) {
    char buf[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        return refused(errno, NULL);
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == -1)
        return refused(errno, "(read)");
    if (n == 0) {
        printf("REFUSED EMPTY\n");
        return 0;
    }
    return succeeded();
}

/* Move ourselves into the cgroup whose cgroup.procs is PATH. */
static int do_cgroup_procs(const char *path) {
    char pid[32];
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd == -1)
        return refused(errno, "(open)");
    int len = snprintf(pid, sizeof pid, "%d\n", getpid());
    return outcome(write(fd, pid, len));
}

static int do_euid(void) {
    uid_t e = geteuid();
    if (e == 0)
        return succeeded();
    printf("REFUSED EUID%u\n", e);
    return 0;
}

/* Fork children that wait for death until N exist or fork fails; then kill them all. */
static int do_forkbomb(const char *n_s) {
    int n = atoi(n_s), made = 0, err = 0;
    pid_t *kids = calloc(n, sizeof *kids);
    if (!kids)
        return error("calloc");
    pid_t parent = getpid();
    while (made < n) {
        pid_t p = fork();
        if (p == -1) {
            err = errno;
            break;
        }
        if (p == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(0);
            for (;;)
                pause();
        }
        kids[made++] = p;
    }
    for (int i = 0; i < made; i++)
        kill(kids[i], SIGKILL);
    for (int i = 0; i < made; i++)
        waitpid(kids[i], NULL, 0);
    if (err) {
        char detail[64];
        snprintf(detail, sizeof detail, "after %d processes", made);
        return refused(err, detail);
    }
    return succeeded();
}

/* Map and touch 4 MiB at a time until MB MiB are resident or mmap fails. */
static int do_membomb(const char *mb_s) {
    long mb = atol(mb_s);
    for (long done = 0; done < mb; done += 4) {
        char *p = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            char detail[64];
            snprintf(detail, sizeof detail, "after %ld MiB", done);
            return refused(errno, detail);
        }
        memset(p, 0xa5, 4 << 20);
    }
    return succeeded();
}

/* Write MB MiB to PATH, 1 MiB at a time, then remove it. SIGXFSZ is ignored so a file-size
 * rlimit shows as EFBIG rather than a kill. */
static int do_diskfill(const char *path, const char *mb_s) {
    static char chunk[1 << 20];
    long mb = atol(mb_s);
    signal(SIGXFSZ, SIG_IGN);
    memset(chunk, 0x5a, sizeof chunk);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd == -1)
        return error("open");
    for (long done = 0; done < mb; done++) {
        size_t off = 0;
        while (off < sizeof chunk) {
            ssize_t w = write(fd, chunk + off, sizeof chunk - off);
            if (w == -1) {
                int err = errno;
                char detail[64];
                snprintf(detail, sizeof detail, "after %ld MiB", done);
                unlink(path);
                return refused(err, detail);
            }
            off += w;
        }
    }
    unlink(path);
    return succeeded();
}

/* Connect to a unix socket: a path, or with `abstract` a name in the abstract namespace. */
static int do_unix(const char *name, int abstract) {
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t len = strlen(name);
    if (len + 2 > sizeof sa.sun_path) {
        printf("ERROR socket name too long\n");
        return 2;
    }
    memcpy(sa.sun_path + abstract, name, len);
    /* Creating the socket is part of the attempt: the default profile refuses AF_UNIX. */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return outcome(-1);
    socklen_t sl = offsetof(struct sockaddr_un, sun_path) + abstract + len;
    return outcome(connect(fd, (struct sockaddr *)&sa, sl));
}


/* clone(2) straight to the kernel with CLONE_NEWUSER: the child exits at once. */
static int do_clone_newuser(void) {
    long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, NULL, NULL, 0);
    if (pid == -1)
        return refused(errno, NULL);
    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    return succeeded();
}

/* clone3(2) with CLONE_NEWUSER: its flags live in memory a seccomp filter cannot read. */
static int do_clone3_newuser(void) {
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_NEWUSER;
    args.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == -1)
        return refused(errno, NULL);
    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    return succeeded();
}

/* A non-default persona: READ_IMPLIES_EXEC makes every readable mapping executable. */
static int do_personality(void) {
    if (personality(PER_LINUX | READ_IMPLIES_EXEC) == -1)
        return refused(errno, NULL);
    int now = personality(0xffffffff);
    if (!(now & READ_IMPLIES_EXEC)) {
        printf("ERROR persona not applied: %#x\n", now);
        return 2;
    }
    return succeeded();
}

/* The i386 entry point from a 64-bit process: getpid is 20 there. A filter that checks
 * only x86_64 numbers would read this as syscall 20 of x86_64 (writev). The confined run
 * must be killed (SIGSYS), so no line is printed there. */
static int do_int80(void) {
#if defined(__x86_64__)
    long ret = 20;
    __asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
    if (ret == getpid())
        return succeeded();
    errno = -ret;
    return refused(errno, "(int 0x80)");
#else
    printf("ERROR not x86_64\n");
    return 2;
#endif
}

/* The shocker escape: a file handle opened with open_by_handle_at ignores the path (and so
 * the mount namespace's root and any bind mount's edges). DIR is a directory on a host file
 * system: its handle via name_to_handle_at or, where that is refused, a forged one (ext4's
 * root inode, 2, generation 0) as shocker.c builds it, opened relative to DIR's mount. */
static int do_open_by_handle(const char *dir) {
    struct {
        struct file_handle h;
        unsigned char bytes[MAX_HANDLE_SZ];
    } fh;
    int mount_id;
    const char *how = "";
    fh.h.handle_bytes = MAX_HANDLE_SZ;
    if (name_to_handle_at(AT_FDCWD, dir, &fh.h, &mount_id, 0) == -1) {
        const uint32_t forged[2] = {2, 0};
        fh.h.handle_bytes = sizeof forged;
        fh.h.handle_type = 1; /* FILEID_INO32_GEN */
        memcpy(fh.h.f_handle, forged, sizeof forged);
        how = "(forged handle)";
    }
    int mount_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (mount_fd == -1)
        return error("open DIR");
    if (open_by_handle_at(mount_fd, &fh.h, O_RDONLY | O_CLOEXEC) == -1)
        return refused(errno, how);
    return succeeded();
}

/* ---- Set-id plants, unix socket pairs, socket families, memory outside the address space
 * (issue 10 items 2a, 3, 8, 9). ---- */

#include <linux/openat2.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

/* The attempt returned `rc`; if it worked, PATH (or FD when PATH is NULL) must now carry
 * the set-id bits of MODE, else the kernel stripped them and nothing was planted. */
static int setid_outcome(long rc, const char *path, int fd, unsigned mode) {
    if (rc == -1)
        return refused(errno, NULL);
    struct stat st;
    if ((path ? stat(path, &st) : fstat(fd, &st)) == -1)
        return error("stat");
    unsigned want = mode & (S_ISUID | S_ISGID);
    if ((st.st_mode & want) != want) {
        printf("REFUSED STRIPPED mode %o\n", st.st_mode & 07777);
        return 0;
    }
    return succeeded();
}

/* `setid HOW PATH MODE`: give PATH (created for the chmod family as an empty 0644 file)
 * mode MODE (octal) through HOW. */
static int do_setid(const char *how, const char *path, const char *mode_s) {
    unsigned mode = strtoul(mode_s, NULL, 8);
    int creates = strcmp(how, "open") == 0 || strcmp(how, "openat") == 0 ||
                  strcmp(how, "creat") == 0 || strcmp(how, "mknod") == 0 ||
                  strcmp(how, "mknodat") == 0 || strcmp(how, "openat2") == 0 ||
                  strcmp(how, "open_high") == 0;
    if (!creates && strcmp(how, "tmpfile") != 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd == -1)
            return error("create the target");
        close(fd);
    }
    if (!strcmp(how, "chmod")) return setid_outcome(chmod(path, mode), path, -1, mode);
    if (!strcmp(how, "chmod_high")) /* set-id bits plus garbage in the high half */
        return setid_outcome(syscall(SYS_chmod, path, (unsigned long)mode | (1UL << 32)),
                             path, -1, mode);
    if (!strcmp(how, "fchmodat"))
        return setid_outcome(fchmodat(AT_FDCWD, path, mode, 0), path, -1, mode);
    if (!strcmp(how, "fchmodat2"))
        return setid_outcome(syscall(SYS_fchmodat2, AT_FDCWD, path, mode, AT_SYMLINK_NOFOLLOW),
                             path, -1, mode);
    if (!strcmp(how, "fchmod") || !strcmp(how, "procfd")) {
        int fd = open(path, (strcmp(how, "procfd") ? O_RDONLY : O_PATH) | O_CLOEXEC);
        if (fd == -1)
            return error("open the target");
        if (!strcmp(how, "fchmod"))
            return setid_outcome(fchmod(fd, mode), path, -1, mode);
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        return setid_outcome(chmod(proc, mode), path, -1, mode);
    }
    long fd = -1;
    if (!strcmp(how, "open")) fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    else if (!strcmp(how, "open_high"))
        fd = syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                     (unsigned long)mode | (1UL << 32));
    else if (!strcmp(how, "openat"))
        fd = syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    else if (!strcmp(how, "creat")) fd = creat(path, mode);
    else if (!strcmp(how, "mknod"))
        return setid_outcome(mknod(path, S_IFREG | mode, 0), path, -1, mode);
    else if (!strcmp(how, "mknodat"))
        return setid_outcome(mknodat(AT_FDCWD, path, S_IFREG | mode, 0), path, -1, mode);
    else if (!strcmp(how, "openat2")) {
        struct open_how oh;
        memset(&oh, 0, sizeof oh);
        oh.flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
        oh.mode = mode;
        fd = syscall(SYS_openat2, AT_FDCWD, path, &oh, sizeof oh);
    } else if (!strcmp(how, "tmpfile")) {
        /* PATH is a directory: an unnamed file there, then linked in as PATH/planted. */
        fd = open(path, O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
        if (fd == -1)
            return refused(errno, NULL);
        char proc[64], name[4096];
        snprintf(proc, sizeof proc, "/proc/self/fd/%ld", fd);
        snprintf(name, sizeof name, "%s/planted", path);
        if (linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW) == -1)
            return error("linkat the tmpfile");
        return setid_outcome(0, name, -1, mode);
    } else {
        printf("ERROR unknown setid way %s\n", how);
        return 2;
    }
    return setid_outcome(fd == -1 ? -1 : 0, path, -1, mode);
}

/* `pair_reach TYPE PATH`: make a unix socketpair of TYPE (stream, seqpacket, dgram, raw)
 * and try to reach the pathname socket PATH with it: connect, sendto with the address,
 * sendmsg with msg_name. A call that "succeeds" but whose byte arrives at the pair's own
 * peer reached nothing. SUCCEEDED when some call delivered elsewhere; otherwise REFUSED
 * with the first call's errno (or PEER) and every call's result as detail. */
static int do_pair_reach(const char *type_s, const char *path) {
    int type = !strcmp(type_s, "stream") ? SOCK_STREAM
             : !strcmp(type_s, "seqpacket") ? SOCK_SEQPACKET
             : !strcmp(type_s, "dgram") ? SOCK_DGRAM
             : !strcmp(type_s, "raw") ? SOCK_RAW : -1;
    if (type == -1) {
        printf("ERROR unknown socket type %s\n", type_s);
        return 2;
    }
    int sv[2];
    if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) == -1)
        return refused(errno, "(socketpair)");
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) + 1 > sizeof sa.sun_path) {
        printf("ERROR socket path too long\n");
        return 2;
    }
    strcpy(sa.sun_path, path);
    socklen_t sl = sizeof sa;
    const char *names[3] = {"connect", "sendto", "sendmsg"};
    const char *results[3];
    int reached = 0;
    for (int i = 0; i < 3; i++) {
        char byte = 'm';
        long rc;
        if (i == 0) {
            rc = connect(sv[0], (struct sockaddr *)&sa, sl);
            if (rc == 0)
                rc = send(sv[0], &byte, 1, MSG_DONTWAIT);
        } else if (i == 1) {
            rc = sendto(sv[0], &byte, 1, MSG_DONTWAIT, (struct sockaddr *)&sa, sl);
        } else {
            struct iovec iov = {&byte, 1};
            struct msghdr mh;
            memset(&mh, 0, sizeof mh);
            mh.msg_name = &sa;
            mh.msg_namelen = sl;
            mh.msg_iov = &iov;
            mh.msg_iovlen = 1;
            rc = sendmsg(sv[0], &mh, MSG_DONTWAIT);
        }
        if (rc == -1) {
            const char *e = strerrorname_np(errno);
            results[i] = e ? e : "UNKNOWN";
            continue;
        }
        char got;
        if (recv(sv[1], &got, 1, MSG_DONTWAIT) == 1) {
            results[i] = "PEER";
        } else {
            results[i] = "SENT";
            reached = 1;
        }
    }
    if (reached)
        return succeeded();
    printf("REFUSED %s connect=%s sendto=%s sendmsg=%s\n", results[0], results[0], results[1],
           results[2]);
    (void)names;
    return 0;
}

/* `pair_stream`: a connected stream pair carries a byte from one end to the other. */
static int do_pair_stream(void) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == -1)
        return refused(errno, NULL);
    char got = 0;
    if (write(sv[0], "p", 1) != 1 || read(sv[1], &got, 1) != 1 || got != 'p')
        return error("stream pair round trip");
    return succeeded();
}

/* `memfd MB` and `shm MB`: hold MB MiB outside the address space (memfd: written with
 * write(2), never mapped; shm: 4 MiB System V segments, each attached, filled and detached,
 * which keeps its pages). The shm segments are marked for removal once all are filled, so
 * the unconfined twin leaves nothing in the host's IPC namespace. */
static int do_hold(const char *what, const char *mb_s) {
    static char chunk[1 << 20];
    long mb = atol(mb_s);
    memset(chunk, 0x6d, sizeof chunk);
    char detail[64];
    if (!strcmp(what, "memfd")) {
        int fd = memfd_create("mycelium-escape", MFD_CLOEXEC);
        if (fd == -1)
            return refused(errno, "(memfd_create)");
        for (long done = 0; done < mb; done++) {
            if (write(fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk) {
                snprintf(detail, sizeof detail, "after %ld MiB", done);
                return refused(errno, detail);
            }
        }
        return succeeded();
    }
    static int ids[1024];
    long n = (mb + 3) / 4;
    if (n > 1024)
        n = 1024;
    int err = 0;
    long made = 0;
    for (; made < n; made++) {
        int id = shmget(IPC_PRIVATE, 4 << 20, IPC_CREAT | 0600);
        if (id == -1) {
            err = errno;
            break;
        }
        ids[made] = id;
        char *p = shmat(id, NULL, 0);
        if (p == (void *)-1) {
            err = errno;
            made++;
            break;
        }
        memset(p, 0x6d, 4 << 20);
        shmdt(p);
    }
    for (long i = 0; i < made; i++)
        shmctl(ids[i], IPC_RMID, NULL);
    if (err) {
        snprintf(detail, sizeof detail, "after %ld MiB", made * 4);
        return refused(err, detail);
    }
    return succeeded();
}

/* `socket FAMILY TYPE PROTOCOL`, all numbers. */
static int do_socket(const char *f, const char *t, const char *p) {
    return outcome(socket(atoi(f), atoi(t) | SOCK_CLOEXEC, atoi(p)));
}

/* `socketpair FAMILY TYPE`, both numbers. */
static int do_socketpair(const char *f, const char *t) {
    int sv[2];
    return outcome(socketpair(atoi(f), atoi(t) | SOCK_CLOEXEC, 0, sv));
}

/* `pipe_pages HOW`: put one page into a pipe without copying it, as an agent holding memory
 * in pipes would (the pipe keeps a reference to the page, which stays allocated after the
 * agent lets go of it: with a transparent huge page behind it, a whole 2 MiB block per pipe
 * slot). HOW is `vmsplice` (a page of this process's memory), `splice` or `sendfile` (a
 * page of a file in /tmp, unlinked first, so tmpfs stops counting it). */
static int do_pipe_pages(const char *how) {
    static char page[4096] __attribute__((aligned(4096)));
    int p[2];
    if (pipe(p) == -1)
        return error("pipe");
    memset(page, 0x70, sizeof page);
    if (!strcmp(how, "vmsplice")) {
        struct iovec iov = {page, sizeof page};
        return outcome(vmsplice(p[1], &iov, 1, SPLICE_F_NONBLOCK));
    }
    char name[] = "/tmp/mycelium-pipe-pages-XXXXXX";
    int fd = mkstemp(name);
    if (fd == -1)
        return error("mkstemp");
    unlink(name);
    if (write(fd, page, sizeof page) != (ssize_t)sizeof page)
        return error("write");
    if (!strcmp(how, "splice")) {
        loff_t off = 0;
        return outcome(splice(fd, &off, p[1], NULL, sizeof page, SPLICE_F_NONBLOCK));
    }
    if (!strcmp(how, "sendfile")) {
        off_t off = 0;
        return outcome(sendfile(p[1], fd, &off, sizeof page));
    }
    return error("pipe_pages: vmsplice, splice or sendfile");
}

/* ---- end of the issue 10 block ---- */

/* ---- The terminal on the standard streams (tty.rs) ---- */

/* Spoil the terminal on `fd` (0 unless given) as a hostile agent would: raw mode without echo, exclusive
 * mode, O_NONBLOCK on the (shared) file description, output stopped (TCOOFF: the owner's
 * next write blocks). Prints nothing, since its own output is stopped: exit 0 when every
 * step worked, 10 + the step that failed otherwise. */
static int do_tty_spoil(int fd) {
    struct termios t;
    if (tcgetattr(fd, &t) == -1)
        return 10;
    cfmakeraw(&t);
    t.c_lflag &= ~(tcflag_t)ECHO;
    if (tcsetattr(fd, TCSANOW, &t) == -1)
        return 11;
    if (ioctl(fd, TIOCEXCL) == -1)
        return 12;
    int fl = fcntl(fd, F_GETFL);
    if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
        return 13;
    if (tcflow(fd, TCOOFF) == -1)
        return 14;
    return 0;
}

/* Print `EXCL 0` or `EXCL 1`: whether the terminal on fd 0 is in exclusive mode. */
static int do_tty_excl(void) {
    int on = 0;
    if (ioctl(0, TIOCGEXCL, &on) == -1)
        return error("ioctl TIOCGEXCL");
    printf("EXCL %d\n", on);
    return 0;
}
/* ---- end of the terminal block ---- */

int main(int argc, char **argv) {
    need(argc, 2);
    const char *m = argv[1];
    if (!strcmp(m, "target")) return target();
    if (!strcmp(m, "ptrace")) return need(argc, 3) + do_ptrace(argv[2]);
    if (!strcmp(m, "vm_readv")) return need(argc, 4) + do_vm_readv(argv[2], argv[3]);
    if (!strcmp(m, "mount")) return need(argc, 3) + do_mount(argv[2]);
    if (!strcmp(m, "userns")) return outcome(unshare(CLONE_NEWUSER));
    if (!strcmp(m, "setns")) return need(argc, 3) + do_setns(argv[2]);
    if (!strcmp(m, "keyctl"))
        return outcome(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
    if (!strcmp(m, "add_key"))
        return outcome(syscall(SYS_add_key, "user", "mycelium-escape", "x", 1,
                               KEY_SPEC_PROCESS_KEYRING));
    if (!strcmp(m, "bpf")) return do_bpf();
    if (!strcmp(m, "perf")) return do_perf();
    if (!strcmp(m, "io_uring")) return do_io_uring();
    if (!strcmp(m, "userfaultfd")) return do_userfaultfd();
    if (!strcmp(m, "finit_module")) return do_finit_module();
    if (!strcmp(m, "init_module")) return do_init_module();
    if (!strcmp(m, "kexec_load")) return do_kexec_load();
    if (!strcmp(m, "tiocsti")) return do_tiocsti(0);
    if (!strcmp(m, "tiocsti_high")) return do_tiocsti(1);
    if (!strcmp(m, "open")) return need(argc, 4) + do_open(argv[2], argv[3]);
    if (!strcmp(m, "read")) return need(argc, 3) + do_read(argv[2]);
    if (!strcmp(m, "cgroup_procs")) return need(argc, 3) + do_cgroup_procs(argv[2]);
    if (!strcmp(m, "euid")) return do_euid();
    if (!strcmp(m, "forkbomb")) return need(argc, 3) + do_forkbomb(argv[2]);
    if (!strcmp(m, "membomb")) return need(argc, 3) + do_membomb(argv[2]);
    if (!strcmp(m, "diskfill")) return need(argc, 4) + do_diskfill(argv[2], argv[3]);
    if (!strcmp(m, "unix")) return need(argc, 3) + do_unix(argv[2], 0);
    if (!strcmp(m, "abstract")) return need(argc, 3) + do_unix(argv[2], 1);
    if (!strcmp(m, "clone_newuser")) return do_clone_newuser();
    if (!strcmp(m, "clone3_newuser")) return do_clone3_newuser();
    if (!strcmp(m, "personality")) return do_personality();
    if (!strcmp(m, "int80")) return do_int80();
    if (!strcmp(m, "open_by_handle")) return need(argc, 3) + do_open_by_handle(argv[2]);
    if (!strcmp(m, "af_packet")) return outcome(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
    if (!strcmp(m, "netlink_audit"))
        return outcome(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT));
    /* issue 10 (2a, 3, 8, 9) */
    if (!strcmp(m, "setid")) return need(argc, 5) + do_setid(argv[2], argv[3], argv[4]);
    if (!strcmp(m, "pair_reach")) return need(argc, 4) + do_pair_reach(argv[2], argv[3]);
    if (!strcmp(m, "pair_stream")) return do_pair_stream();
    if (!strcmp(m, "memfd") || !strcmp(m, "shm")) return need(argc, 3) + do_hold(m, argv[2]);
    if (!strcmp(m, "pipe_pages")) return need(argc, 3) + do_pipe_pages(argv[2]);
    if (!strcmp(m, "socket")) return need(argc, 5) + do_socket(argv[2], argv[3], argv[4]);
    if (!strcmp(m, "socketpair")) return need(argc, 4) + do_socketpair(argv[2], argv[3]);

    if (!strcmp(m, "tty_spoil")) return do_tty_spoil(argc > 2 ? atoi(argv[2]) : 0);
    if (!strcmp(m, "tty_excl")) return do_tty_excl();
    printf("ERROR unknown probe %s\n", m);
    return 2;
}
