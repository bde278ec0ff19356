"""The oracle node's tasks: poll, process, deliver (+ batch), confirm, expire, prune.

Each is a small `Task` (`base.py`) with `setup` / `run` / `stop`; `oracle/daemon.py` builds the
shared `Parts`, the tasks, and wires them together by hand (who wakes whom)."""
