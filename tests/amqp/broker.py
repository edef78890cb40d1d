"""A private RabbitMQ broker for tests: own temp dir, node name, ports and epmd, stopped by PID.

The recipe is issue 17's ("Facts measured on this machine"): run the broker script under
/usr/lib/rabbitmq/bin directly (the /usr/sbin wrapper switches user), give Erlang its own HOME
and cookie, and run a foreground epmd on 127.0.0.1 as our child so no `epmd -daemon` outlives
the test. Stdlib only, plus pika for the readiness login and the queue helpers.
"""

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
EPMD = shutil.which("epmd") or "/usr/bin/epmd"
START_TIMEOUT = 90.0  # start takes 4-25 s here; a busy CI machine can be slower
STOP_GRACE = 30.0


class BrokerUnavailable(RuntimeError):
    """The broker cannot run here (missing package, or it failed to start)."""


def broker_available():
    """(True, "") when the server script and epmd exist, else (False, reason) for a skip."""
    for path in (SERVER, EPMD):
        if not os.access(path, os.X_OK):
            return False, f"{path} is missing: install rabbitmq-server (tools/setup.sh)"
    if importlib.util.find_spec("pika") is None:
        return False, "python3-pika is missing (tools/setup.sh)"
    return True, ""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def can_connect(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def children_of(pid):
    """Direct children from /proc (Linux >= 3.5 with CONFIG_PROC_CHILDREN)."""
    found = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return found


def process_name(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def wait_exit(proc, timeout):
    try:
        proc.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        return False


class Broker:
    """One rabbitmq-server node on 127.0.0.1 with its own data, ports, cookie and epmd.

    start() / stop() / kill() (SIGKILL beam.smp: a crash) / restart() (same data dir and
    ports, so durable and quorum queues survive) / close() (stop and remove the temp dir).
    """

    def __init__(self, name_prefix="taskring"):
        self.dir = tempfile.mkdtemp(prefix="taskring-rabbit-")
        self.node = f"{name_prefix}-{uuid.uuid4().hex[:8]}@localhost"
        ports = set()
        while len(ports) < 3:  # the kernel may hand out a just-released port again
            ports.add(free_port())
        self.amqp_port, self.dist_port, self.epmd_port = sorted(ports)
        self.server = None
        self.epmd = None
        self.start_seconds = []  # one entry per start, for the reports
        self._write_files()

    # ---- files and environment -------------------------------------------------------------

    def _path(self, *parts):
        return os.path.join(self.dir, *parts)

    def _write_files(self):
        os.makedirs(self._path("home"))
        os.makedirs(self._path("log"))
        os.makedirs(self._path("mnesia"))
        cookie = self._path("home", ".erlang.cookie")
        with open(cookie, "w") as f:
            f.write(uuid.uuid4().hex.upper())
        os.chmod(cookie, 0o400)  # Erlang refuses a cookie others can read
        with open(self._path("rabbitmq.conf"), "w") as f:
            # Low disk limit: on a small disk the default alarm blocks publishers forever.
            f.write("disk_free_limit.absolute = 50MB\n")
        with open(self._path("enabled_plugins"), "w") as f:
            f.write("[].\n")
        open(self._path("rabbitmq-env.conf"), "w").close()  # not /etc/rabbitmq's

    def env(self):
        """The environment for rabbitmq-server and rabbitmqctl against this node."""
        env = dict(os.environ)
        env.update({
            "HOME": self._path("home"),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": self._path("mnesia"),
            "RABBITMQ_LOG_BASE": self._path("log"),
            "RABBITMQ_PID_FILE": self._path("rabbit.pid"),
            "RABBITMQ_CONFIG_FILE": self._path("rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": self._path("enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": self._path("rabbitmq-env.conf"),
            "ERL_CRASH_DUMP": self._path("erl_crash.dump"),  # not in the caller's cwd
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        })
        for var in ("RABBITMQ_ALLOW_INPUT", "NOTIFY_SOCKET"):  # would make the script exec
            env.pop(var, None)
        return env

    @property
    def url(self):
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/%2f"

    @property
    def log_path(self):
        return self._path("server.out")

    def log_tail(self, lines=40):
        text = ""
        for path in (self.log_path, self._path("log", f"{self.node}.log")):
            try:
                with open(path, errors="replace") as f:
                    text += f"--- {path}\n" + "".join(f.readlines()[-lines:])
            except OSError:
                pass
        return text

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self, timeout=START_TIMEOUT):
        """Start epmd (if not running) and the server; return once guest can log in."""
        began = time.monotonic()
        try:
            self._start_epmd()
            self._wait_ports_free(timeout)
            self._spawn_server()
            self._wait_ready(began, timeout)
        except BaseException:
            self.stop()  # no server or epmd outlives a failed start
            raise
        self.start_seconds.append(time.monotonic() - began)
        return self

    def _spawn_server(self):
        with open(self.log_path, "ab") as out:
            # Own session: the wrapper's process group holds beam.smp and its helpers, so a
            # last-resort killpg reaches all of them and none of ours.
            self.server = subprocess.Popen([SERVER], env=self.env(), cwd=self.dir,
                                           stdin=subprocess.DEVNULL, stdout=out,
                                           stderr=subprocess.STDOUT, start_new_session=True)

    def _start_epmd(self):
        if self.epmd and self.epmd.poll() is None:
            return
        self.epmd = subprocess.Popen(
            [EPMD, "-address", "127.0.0.1", "-port", str(self.epmd_port)],
            env=self.env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while not can_connect(self.epmd_port):
            if self.epmd.poll() is not None or time.monotonic() > deadline:
                raise BrokerUnavailable(f"epmd on port {self.epmd_port} did not start")
            time.sleep(0.05)

    def _wait_ports_free(self, timeout):
        # After a kill the old node's listening sockets close with the process, but give the
        # kernel (and a slow exit) time rather than fail a restart on EADDRINUSE.
        deadline = time.monotonic() + timeout
        for port in (self.amqp_port, self.dist_port):
            while not port_is_free(port):
                if time.monotonic() > deadline:
                    raise BrokerUnavailable(f"port {port} still in use before start")
                time.sleep(0.1)

    def _wait_ready(self, began, timeout):
        while True:
            if self.server.poll() is not None:
                raise BrokerUnavailable(f"rabbitmq-server exited with {self.server.returncode}"
                                        f" before it was ready\n{self.log_tail()}")
            if can_connect(self.amqp_port) and self._can_login():
                return
            if time.monotonic() > began + timeout:
                raise BrokerUnavailable(f"rabbitmq-server not ready after {timeout:.0f} s"
                                        f"\n{self.log_tail()}")
            time.sleep(0.2)

    def _can_login(self):
        import pika
        try:
            self.connection().close()
            return True
        except (pika.exceptions.AMQPError, OSError):
            return False

    def beam_pid(self):
        """The Erlang VM: the wrapper's child (the script backgrounds `exec erl`)."""
        if not self.server:
            return None
        for child in children_of(self.server.pid):
            if process_name(child).startswith("beam"):
                return child
        return None

    def kill(self):
        """A crash: SIGKILL beam.smp, then reap the wrapper (it exits when its child does)."""
        pid = self.beam_pid()
        if pid is None:
            raise RuntimeError("no beam.smp child of the broker wrapper")
        os.kill(pid, signal.SIGKILL)
        wait_exit(self.server, STOP_GRACE)
        self._kill_group()  # the wrapper if it lingers, and any helper beam.smp left behind
        self.server = None

    def restart(self, timeout=START_TIMEOUT):
        """Start again on the same data dir, node name and ports (after stop() or kill())."""
        if self.server:
            self.stop_server()
        return self.start(timeout)

    def stop_server(self):
        """A clean stop: SIGTERM the sh wrapper (it runs `rabbitmqctl stop`'s equivalent)."""
        if not self.server:
            return
        if self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            if not wait_exit(self.server, STOP_GRACE):
                self._kill_group()
        self._kill_group()  # helpers (erl_child_setup, inet_gethost) left behind, if any
        self.server = None

    def _kill_group(self):
        try:
            os.killpg(self.server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        wait_exit(self.server, 10)

    def stop(self):
        """Stop the server, then our epmd (by PID). The data dir stays for restart()."""
        self.stop_server()
        if self.epmd:
            if self.epmd.poll() is None:
                self.epmd.terminate()
                if not wait_exit(self.epmd, 10):
                    self.epmd.kill()
                    self.epmd.wait()
            self.epmd = None

    def close(self):
        """Final stop: processes, then the temp dir."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def ctl(self, *args, timeout=60):
        """rabbitmqctl against this node (same cookie, epmd port and node name)."""
        done = subprocess.run([CTL, "-n", self.node, *args], env=self.env(), timeout=timeout,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: exit {done.returncode}\n"
                               f"{done.stdout}{done.stderr}")
        return done.stdout

    def sync_metadata(self):
        """Flush the broker's dets tables to disk. Ra keeps a quorum queue's registration
        (names.dets, auto-saved every 0.5 s) and its term (meta.dets, every 5 s) in dets: a
        SIGKILL sooner than that after a declare loses them, and the restarted node starts a
        new, empty Raft server for the queue. Messages are fsynced on confirm; this is about
        the queue, so call it after declaring and before kill(), or wait 6 s."""
        self.ctl("eval", "[dets:sync(T) || T <- dets:all()].")

    # ---- queue helpers (pika) -------------------------------------------------------------

    def connection(self):
        import pika
        params = pika.URLParameters(self.url)
        params.connection_attempts = 1
        params.socket_timeout = 5
        params.blocked_connection_timeout = 30
        return pika.BlockingConnection(params)

    def _with_channel(self, fn):
        conn = self.connection()
        try:
            return fn(conn.channel())
        finally:
            if conn.is_open:
                conn.close()

    def declare_quorum(self, name):
        return self._with_channel(lambda ch: ch.queue_declare(
            name, durable=True, arguments={"x-queue-type": "quorum"}))

    def queue_depth(self, name):
        """Ready messages (passive declare). A quorum queue miscounts for ~1 s after a
        restart (issue 17): to check what survived, drain() instead."""
        return self._with_channel(
            lambda ch: ch.queue_declare(name, passive=True).method.message_count)

    def publish(self, name, bodies, properties=None):
        """Publish to the default exchange with publisher confirms; raises if any is nacked."""
        import pika
        props = properties or pika.BasicProperties(delivery_mode=2)

        def run(ch):
            ch.confirm_delivery()
            for body in bodies:
                ch.basic_publish("", name, body, props, mandatory=True)
        self._with_channel(run)

    def drain(self, name, timeout=60.0, quiet=1.0):
        """Consume with acks until the queue stays empty for `quiet` s (or `timeout`
        passes); return [(properties, body)] in delivery order. Right after a restart a
        quorum queue may refuse consumers (INTERNAL_ERROR) until its leader is elected:
        reconnect and go on until the deadline. A quorum queue the broker lost (see
        sync_metadata) blocks basic.consume for the broker's own 60 s before that error."""
        import pika
        got = []
        deadline = time.monotonic() + timeout

        def run(ch):
            ch.basic_qos(prefetch_count=1000)
            for method, props, body in ch.consume(name, inactivity_timeout=quiet):
                if method is None:
                    break
                got.append((props, body))
                ch.basic_ack(method.delivery_tag)
                if time.monotonic() > deadline:
                    break
            ch.cancel()

        while True:
            try:
                self._with_channel(run)
                return got
            except pika.exceptions.AMQPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def purge(self, name):
        return self._with_channel(lambda ch: ch.queue_purge(name).method.message_count)

    def delete_queue(self, name):
        return self._with_channel(lambda ch: ch.queue_delete(name))
