# Hangar process-runtime query driver: runs code sent by the agent in one persistent
# namespace. Requests arrive on fd 3 and replies leave on fd 4, each a 4-byte big-endian
# length followed by a JSON document.
import json, os, signal, struct, sys, traceback

RIN = os.fdopen(3, "rb", buffering=0)
ROUT = os.fdopen(4, "wb", buffering=0)


def send(obj):
    b = json.dumps(obj).encode()
    ROUT.write(struct.pack(">I", len(b)) + b)


def readn(n):
    buf = b""
    while len(buf) < n:
        c = RIN.read(n - len(buf))
        if not c:
            sys.exit(0)
        buf += c
    return buf


class Stream:
    def __init__(self, name):
        self._n = name

    def write(self, s):
        if s:
            send({"type": "stream", "name": self._n, "text": str(s)})
        return len(s)

    def flush(self):
        pass

    def isatty(self):
        return False

    def writable(self):
        return True


ns = {"__name__": "__main__", "__builtins__": __builtins__}
out, err = Stream("stdout"), Stream("stderr")
while True:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    n = struct.unpack(">I", readn(4))[0]
    req = json.loads(readn(n))
    code = 0
    sys.stdout, sys.stderr = out, err
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            exec(compile(req.get("code", ""), "<input>", "exec"), ns)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            code = 1
            traceback.print_exc()
    except KeyboardInterrupt:
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    send({"type": "done", "exitCode": code})
