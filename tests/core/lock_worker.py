# SPDX-License-Identifier: GPL-3.0-or-later
"""A separate process that takes the meta.json lock, for the lock tests in test_frame_io.py.

python lock_worker.py hold FOLDER            take the lock, print "held", keep it until killed
python lock_worker.py contend FOLDER ROUNDS  wait for FOLDER/go, then take the lock ROUNDS
                                             times; print how often another holder was inside
python lock_worker.py write FOLDER ROUNDS [kept]
                                             wait for FOLDER/go, then on 4 threads write ROUNDS
                                             files each into FOLDER/out atomically (keeping
                                             .partial/ between files with kept); print "ok"
"""

import importlib.util
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location(
    "ground_truth", ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
)
package = importlib.util.module_from_spec(spec)
sys.modules["ground_truth"] = package
spec.loader.exec_module(package)

from ground_truth.exporters.atomic import atomic_path, partial_folders_kept  # noqa: E402
from ground_truth.exporters.meta import meta_lock  # noqa: E402

mode, folder = sys.argv[1], Path(sys.argv[2])
if mode == "write":
    from concurrent.futures import ThreadPoolExecutor
    from contextlib import nullcontext

    rounds = int(sys.argv[3])
    while not (folder / "go").exists():
        time.sleep(0.001)

    def write(thread: int) -> None:
        for n in range(rounds):
            with atomic_path(folder / "out" / f"{os.getpid()}.{thread}.{n}") as tmp, open(tmp, "wb") as stream:
                stream.write(b"x")

    with partial_folders_kept() if sys.argv[4:] == ["kept"] else nullcontext(), ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))
    print("ok", flush=True)
elif mode == "hold":
    with meta_lock(folder):
        print("held", flush=True)
        time.sleep(60)
else:
    print("ready", flush=True)
    while not (folder / "go").exists():
        time.sleep(0.0005)
    intrusions = 0
    for _ in range(int(sys.argv[3])):
        with meta_lock(folder, timeout=60):
            try:
                os.close(os.open(folder / "inside", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                intrusions += 1
                continue
            (folder / "inside").unlink()
    print(intrusions, flush=True)
