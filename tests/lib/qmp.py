"""A minimal QMP client on a unix socket, for the tests that drive QEMU
(migration, a VM stopped and started again)."""

import json
import socket
import time


class Qmp:
    """A minimal QMP client on a unix socket."""

    def __init__(self, path, timeout=30.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(str(path))
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.sock.settimeout(timeout)
        self.file = self.sock.makefile("rw")
        self._read()                                    # the greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        while True:
            line = self.file.readline()
            if not line:
                raise EOFError("QMP connection closed")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def cmd(self, name, **args):
        """Run a command; returns its `return`, raises on an error."""
        self.file.write(json.dumps({"execute": name, "arguments": args})
                        + "\n")
        self.file.flush()
        msg = self._read()
        if "error" in msg:
            raise RuntimeError(f"QMP {name}: {msg['error']}")
        return msg.get("return")

    def close(self):
        self.sock.close()
