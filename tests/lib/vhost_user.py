"""The vhost-user sound daemon (contrib/vhost-user-sound) for the tests
and benchmarks: where the build put it, starting it, and QEMU's arguments
to connect the guest to it (vhost-user-snd-pci, with the guest's memory
shared through a memfd, as vhost-user needs)."""

import os
import subprocess
import time

import guest

# guest.run_guest() gives the guest 256 MiB; the backend must be as large.
MEMORY = ["-object", "memory-backend-memfd,id=mem,size=256M,share=on",
          "-machine", "memory-backend=mem"]


class NoFrontEnd(RuntimeError):
    """The QEMU under test has no vhost-user-snd-pci (QEMU 7.2)."""


def daemon_binary():
    """The daemon of the QEMU under test's build (guest.qemu_binary());
    NoFrontEnd where that QEMU has no vhost-user-snd front end,
    FileNotFoundError where the build has no daemon."""
    qemu = guest.qemu_binary()
    devices = subprocess.run([str(qemu), "-device", "help"],
                             capture_output=True, text=True,
                             timeout=30).stdout
    if '"vhost-user-snd-pci"' not in devices:
        raise NoFrontEnd(f"{qemu} has no vhost-user-snd-pci")
    daemon = qemu.parent / "contrib" / "vhost-user-sound" / "vhost-user-sound"
    if not os.access(daemon, os.X_OK):
        raise FileNotFoundError(f"no daemon at {daemon}: scripts/build-qemu "
                                f"--qemu 10.2 builds it")
    return daemon


def start(daemon, work, *args, env=None, timeout=10.0):
    """The daemon listening on work/snd.sock (in environment env: a
    private PipeWire's), its output in work/daemon.log; (process, socket).
    RuntimeError if no socket comes within timeout s."""
    sock = work / "snd.sock"
    with open(work / "daemon.log", "w") as log:
        proc = subprocess.Popen([str(daemon), "--socket-path", str(sock),
                                 *args], stdout=log, stderr=subprocess.STDOUT,
                                env=env)
    deadline = time.monotonic() + timeout
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                proc.kill()
            raise RuntimeError(f"the daemon did not listen: "
                               f"{(work / 'daemon.log').read_text()}")
        time.sleep(0.05)
    return proc, sock


def qemu_args(sock, device_opts=""):
    """QEMU's arguments for a guest on the daemon listening on sock."""
    return MEMORY + ["-chardev", f"socket,id=vus,path={sock}",
                     "-device", f"vhost-user-snd-pci,chardev=vus{device_opts}"]
