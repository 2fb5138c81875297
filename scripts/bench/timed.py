#!/usr/bin/env python3
"""Runs a command and writes its wall time in seconds to OUT, read from a nanosecond clock around
the child alone (not this interpreter's start): /usr/bin/time's %e has 10 ms steps, an eighth of
the benchmarks' floor. The command's output is discarded; its stderr goes to OUT.stderr.
  timed.py OUT COMMAND..."""
import os
import sys
import time


def main(argv):
    out, command = argv[1], argv[2:]
    with open(os.devnull, "wb") as null, open(out + ".stderr", "wb") as errors:
        started = time.perf_counter_ns()
        pid = os.posix_spawnp(command[0], command, os.environ, file_actions=[
            (os.POSIX_SPAWN_DUP2, null.fileno(), 1), (os.POSIX_SPAWN_DUP2, errors.fileno(), 2)])
        _, status = os.waitpid(pid, 0)
        elapsed = time.perf_counter_ns() - started
    with open(out, "w") as result:
        result.write(f"{elapsed / 1e9:.4f}\n")
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
