"""Drive serve with Python's imaplib and check the Maildir on disk.

Usage: imaplib_client.py PORT MAILDIR USER PASSWORD

The Go test (TestPythonImaplib) fills INBOX with three messages whose
subjects are "first", "second" and "third", and creates Archive/2024.
Exit status 0 and a last line "OK" mean every check passed.
"""

import imaplib
import os
import re
import socket
import sys
import time

port, root, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def folder_dir(name):
    return root if name == "INBOX" else os.path.join(root, "." + name.replace("/", "."))


def files(name):
    """subject -> (dir, filename, content) for every message of a folder."""
    out = {}
    d = folder_dir(name)
    for sub in ("new", "cur"):
        for fn in os.listdir(os.path.join(d, sub)):
            with open(os.path.join(d, sub, fn), "rb") as f:
                b = f.read()
            m = re.search(rb"^Subject: (.*)$", b, re.M)
            out[m.group(1).decode() if m else fn] = (sub, fn, b)
    return out


def ok(resp, what):
    typ, data = resp
    check(typ == "OK", "%s: %s %r" % (what, typ, data))
    return data


M = imaplib.IMAP4("127.0.0.1", port)
try:
    M.login(user, "wrong")
    fail("wrong password accepted")
except imaplib.IMAP4.error as e:
    check("AUTHENTICATIONFAILED" in str(e), "wrong password: %s" % e)
ok(M.login(user, password), "LOGIN")

caps = ok(M.capability(), "CAPABILITY")[0].decode().split()
for c in ("UIDPLUS", "MOVE", "IDLE", "NAMESPACE", "SPECIAL-USE"):
    check(c in caps, "capability %s missing from %r" % (c, caps))

listing = b"\n".join(ok(M.list(), "LIST"))
check(b'"Archive/2024"' in listing or b"Archive/2024" in listing, "LIST: %r" % listing)

data = ok(M.select("INBOX"), "SELECT")
check(data == [b"3"], "SELECT EXISTS %r" % data)

# SEARCH
data = ok(M.uid("SEARCH", None, "ALL"), "SEARCH ALL")
check(data == [b"1 2 3"], "SEARCH ALL %r" % data)
data = ok(M.uid("SEARCH", None, "SUBJECT", "second"), "SEARCH SUBJECT")
check(data == [b"2"], "SEARCH SUBJECT %r" % data)
data = ok(M.uid("SEARCH", None, "OR", "SUBJECT", "first", "BODY", "\"THIRD BODY\""), "SEARCH OR")
check(data == [b"1 3"], "SEARCH OR %r" % data)

# FETCH is byte-exact and does not mark seen with PEEK.
data = ok(M.uid("FETCH", "1", "(RFC822.SIZE BODY.PEEK[])"), "FETCH")
raw = files("INBOX")["first"][2]
wire = re.sub(rb"(?<!\r)\n", b"\r\n", raw)
check(data[0][1] == wire, "FETCH body %r != %r" % (data[0][1], wire))
check(b"RFC822.SIZE %d" % len(wire) in data[0][0], "RFC822.SIZE in %r" % data[0][0])

# STORE renames the file.
ok(M.uid("STORE", "1", "+FLAGS", r"(\Flagged \Seen)"), "STORE")
sub, fn, _ = files("INBOX")["first"]
check(sub == "cur" and fn.endswith(":2,FS"), "after STORE the file is %s/%s" % (sub, fn))
ok(M.uid("STORE", "1", "-FLAGS.SILENT", r"(\Flagged)"), "STORE -FLAGS.SILENT")
sub, fn, _ = files("INBOX")["first"]
check(fn.endswith(":2,S"), "after -FLAGS the file is %s" % fn)

# APPEND with a date and flags: stored with LF line endings.
# (imaplib itself turns a lone CR into CRLF, so there is none here.)
msg = b"From: py@example.org\r\nSubject: appended\r\n\r\nbody with 8-bit \xc3\xa9\r\n"
date = imaplib.Time2Internaldate(time.mktime((2021, 6, 7, 8, 9, 10, 0, 0, -1)))
typ, data = M.append("INBOX", r"(\Draft)", date, msg)
check(typ == "OK", "APPEND %r" % data)
check(b"APPENDUID" in data[0] and data[0].endswith(b" 4] APPEND completed"), "APPEND answer %r" % data)
sub, fn, b = files("INBOX")["appended"]
check(b == msg.replace(b"\r\n", b"\n"), "appended file %r" % b)
check(fn.endswith(":2,D"), "appended name %s" % fn)

# COPY with COPYUID, then MOVE.
typ, data = M._simple_command("UID", "COPY", "2", "Archive/2024")
check(typ == "OK" and b"COPYUID" in data[0], "COPY %r" % data)
check("second" in files("Archive/2024"), "COPY: not in the archive")
typ, data = M.uid("MOVE", "3", "Archive/2024")
check(typ == "OK", "MOVE %r" % data)
check("third" in files("Archive/2024") and "third" not in files("INBOX"), "MOVE: files not moved")

# EXPUNGE removes the file.
ok(M.uid("STORE", "2", "+FLAGS", r"(\Deleted)"), "STORE Deleted")
ok(M.expunge(), "EXPUNGE")
check("second" not in files("INBOX"), "EXPUNGE left the file")
data = ok(M.uid("SEARCH", None, "ALL"), "SEARCH after EXPUNGE")
check(data == [b"1 4"], "left %r" % data)

# IDLE: a file written into new/ by another program is announced.
tag = M._new_tag()
M.send(tag + b" IDLE\r\n")
line = M.readline()
check(line.startswith(b"+"), "IDLE continuation %r" % line)
name = "%d.M1P%dRpython.test" % (time.time(), os.getpid())
tmp = os.path.join(root, "tmp", name)
with open(tmp, "wb") as f:
    f.write(b"Subject: dropped\n\nfrom outside\n")
os.rename(tmp, os.path.join(root, "new", name))
M.sock.settimeout(10)
got = b""
deadline = time.time() + 10
while time.time() < deadline:
    line = M.readline()
    got += line
    if re.match(rb"\* 3 EXISTS", line):
        break
check(b"* 3 EXISTS" in got, "IDLE did not announce the new file: %r" % got)
M.send(b"DONE\r\n")
while True:
    line = M.readline()
    if line.startswith(tag):
        check(b"OK" in line, "IDLE end %r" % line)
        break
data = ok(M.uid("FETCH", "5", "(BODY.PEEK[TEXT])"), "FETCH dropped")
check(data[0][1] == b"from outside\r\n", "dropped body %r" % data[0][1])

M.logout()
print("OK")
