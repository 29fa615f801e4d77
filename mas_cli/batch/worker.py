"""A worker process of a local batch: `python -m mas_cli.batch.worker FD` (see serving.py).

The collector is set before the engine, the SDKs and the crew load, as `mas` itself sets it
(collector.py); serving.py is the work.
"""

import sys

from mas_cli import collector


def main(argv: list[str]) -> int:
    """The worker's process: exit 0 when the batch ended it, 1 when it could not start."""
    collector.start()
    from mas_cli.batch.serving import run

    code = run(argv)
    collector.skip_final_walk()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
