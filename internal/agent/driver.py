# Hangar process-runtime query driver: runs code sent by the agent in one persistent
# namespace. Requests arrive on fd 3 and replies leave on fd 4, each a 4-byte big-endian
# length followed by a JSON document.
#
# Requests: {"code": "..."} runs code; {"input": "...", "seq": n} answers the input request n;
# {"setup": {"env": {...}, "cwd": "..."}} replaces the environment and changes the working
# directory (a warm interpreter handed to a kernel).
# Replies: {"type": "ready"} once, when requests are read; {"type": "setup-done"} answers a
# setup; {"type": "stream", "name", "text"} is output; {"type": "waiting-input", "seq",
# "isPassword"} asks for a line of input (input(), getpass.getpass()); {"type":
# "input-cancelled", "seq"} withdraws that request when it ends without an answer (an
# interrupt); {"type": "done", "exitCode"} ends a run.
import builtins, getpass, json, os, select, signal, struct, sys, threading, time, traceback

RIN = os.fdopen(3, "rb", buffering=0)
ROUT = os.fdopen(4, "wb", buffering=0)


SEND_LOCK = threading.Lock()


def send(obj):
    b = json.dumps(obj).encode()
    frame = memoryview(struct.pack(">I", len(b)) + b)
    # With SIGINT blocked the write is neither cut short nor left half done by an interrupt,
    # which would garble every later frame; the lock keeps threads' frames apart.
    # (Blocking may itself raise an interrupt caught just before; the finally unblocks.)
    with SEND_LOCK:
        try:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            while frame:
                frame = frame[ROUT.write(frame):]
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def readn(n):
    buf = b""
    while len(buf) < n:
        c = RIN.read(n - len(buf))
        if not c:
            raise EOFError("the agent closed the request pipe")
        buf += c
    return buf


def recv():
    n = struct.unpack(">I", readn(4))[0]
    return json.loads(readn(n))


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


# A signal that arrives just before select() blocks would only be handled once select
# returns; while input is awaited, the wakeup pipe makes select return.
WAKE_R, WAKE_W = os.pipe()
os.set_blocking(WAKE_R, False)
os.set_blocking(WAKE_W, False)


def drain_wakeups():
    try:
        while os.read(WAKE_R, 512):
            pass
    except BlockingIOError:
        pass


class Asking:
    """The state of an input request: while a frame is being read, SIGINT is only noted, so
    that an interrupt never leaves half a frame in the pipe."""

    seq = 0
    reading = False
    pending = False


def on_interrupt(signum, frame):
    if Asking.reading:
        Asking.pending = True
    else:
        raise KeyboardInterrupt


def ask(prompt, password):
    """Writes prompt, asks the agent for a line of input and returns it without its newline.
    SIGINT while waiting raises KeyboardInterrupt."""
    if prompt:
        sys.stdout.write(str(prompt))
        sys.stdout.flush()
    Asking.seq += 1
    seq = Asking.seq
    # Only the main thread handles signals (and may set their handlers).
    main = threading.current_thread() is threading.main_thread()
    if main:
        prev_wake = signal.set_wakeup_fd(WAKE_W, warn_on_full_buffer=False)
        prev = signal.signal(signal.SIGINT, on_interrupt)
    answered = False
    try:
        send({"type": "waiting-input", "seq": seq, "isPassword": bool(password)})
        while True:
            # Nothing is consumed before reading starts, so an interrupt raised up to that
            # moment loses nothing.
            ready = select.select([RIN, WAKE_R], [], [])[0]
            if WAKE_R in ready:
                drain_wakeups()
            if RIN not in ready:
                continue
            Asking.reading = main
            req = recv()
            Asking.reading = False
            if Asking.pending:
                raise KeyboardInterrupt
            # Answers to earlier (interrupted) requests and anything else are dropped.
            if req.get("seq") == seq and "input" in req:
                text = str(req["input"])
                if text.endswith("\n"):
                    text = text[:-1]
                    if text.endswith("\r"):
                        text = text[:-1]
                answered = True
                return text
    finally:
        Asking.reading = Asking.pending = False
        if main:
            signal.signal(signal.SIGINT, prev)
            signal.set_wakeup_fd(prev_wake)
        if not answered:
            send({"type": "input-cancelled", "seq": seq})


def hangar_input(prompt=""):
    return ask(prompt, False)


def hangar_getpass(prompt="Password: ", stream=None):
    return ask(prompt, True)


builtins.input = hangar_input
getpass.getpass = hangar_getpass



def setup(req):
    """Takes on a kernel's environment and working directory."""
    env = req.get("env") or {}
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in env.items()})
    if req.get("cwd"):
        os.chdir(req["cwd"])
    if hasattr(time, "tzset"):
        time.tzset()


ns = {"__name__": "__main__", "__builtins__": __builtins__}
out, err = Stream("stdout"), Stream("stderr")
send({"type": "ready"})
while True:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        req = recv()
    except EOFError:
        sys.exit(0)
    if "setup" in req:
        setup(req["setup"] or {})
        send({"type": "setup-done"})
        continue
    if "code" not in req:
        # A late answer to an input request of a run that already ended.
        continue
    code = 0
    sys.stdout, sys.stderr = out, err
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            exec(compile(req.get("code") or "", "<input>", "exec"), ns)
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
