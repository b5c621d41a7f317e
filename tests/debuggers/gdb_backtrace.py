"""gdb script: run the program until guest code traps, load the artifact's symbols at the address
it is mapped at, and print the backtrace. Usage:
    KILN_ARTIFACT=path gdb -batch -x gdb_backtrace.py --args kiln run path --invoke f
"""
import os

import gdb

gdb.execute("set pagination off")
gdb.execute("set confirm off")
# Kiln turns these signals into traps; stop at the first one, before Kiln's handler runs.
gdb.execute("handle SIGSEGV stop nopass")
gdb.execute("handle SIGILL stop nopass")
gdb.execute("handle SIGFPE stop nopass")
gdb.execute("run")
path = os.path.realpath(os.environ["KILN_ARTIFACT"])
base = None
for line in gdb.execute("info proc mappings", to_string=True).splitlines():
    parts = line.split()
    # The mapping of the file at offset 0 gives the artifact's load address (section addresses
    # in the artifact are file offsets).
    if len(parts) >= 5 and parts[-1] == path and int(parts[3], 16) == 0:
        base = int(parts[0], 16)
        break
if base is None:
    raise gdb.GdbError("artifact mapping not found")
gdb.execute("add-symbol-file %s -o 0x%x" % (path, base))
print(gdb.execute("bt", to_string=True))
gdb.execute("kill")
