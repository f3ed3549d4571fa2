#!/usr/bin/env python3
"""Runs one IMAP scenario with Python's imaplib and prints a normalised
transcript; the Go test runs it against Dovecot and against serve and
compares the two. Arguments: host port user password."""
import imaplib
import re
import sys

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
M = imaplib.IMAP4(host, port)
out = []


def norm(data):
    s = " ".join(d.decode("latin-1") if isinstance(d, bytes) else str(d) for d in data if d is not None)
    s = re.sub(r"UID \d+ ", "", s)  # serve adds UID to FETCH responses
    s = re.sub(r'"([^"/]+)"$', r"\1", s)
    s = re.sub(r'"/" "([^"]+)"', r'"/" \1', s)

    def sort_list(m):
        return "(" + " ".join(sorted(m.group(1).split())) + ")"

    s = re.sub(r"FLAGS \(([^)]*)\)", lambda m: "FLAGS " + sort_list(m), s)

    def sort_pairs(m):  # STATUS items come in any order
        w = m.group(1).split()
        return "(" + " ".join(sorted(" ".join(w[i:i + 2]) for i in range(0, len(w), 2))) + ")"

    return re.sub(r"^(?:INBOX|Other) \(([^)]*)\)", lambda m: m.group(0).split(" ")[0] + " " + sort_pairs(m), s)


def step(name, res):
    typ, data = res
    out.append("%s: %s %s" % (name, typ, norm(data)))


imaplib.Commands["ID"] = ("NONAUTH", "AUTH", "SELECTED")
typ, data = M._simple_command("ID", "NIL")
step("ID before login", (typ, [b"ok" if M.untagged_responses.pop("ID", None) else b"none"]))
M.login(user, password)
M.create("Other")
msg = b"From: carol@example.org\r\nSubject: hello\r\nMessage-ID: <m@x>\r\n\r\nhello\r\n"
M.append("INBOX", None, None, msg)
M.append("INBOX", r"(\Seen $appended)", None, msg)
step("STATUS", M.status("INBOX", "(MESSAGES RECENT UNSEEN)"))
typ, data = M.select("INBOX")
step("SELECT", (typ, data))
out.append("RECENT: %s" % norm(M.response("RECENT")[1]))
perm = M.untagged_responses.get("OK", [])
out.append("PERMANENTFLAGS has \\*: %s" % any(b"\\*" in p for p in perm if p))
step("STORE", M.store("1", "+FLAGS", "($hello $world)"))
step("STORE NIL", M.store("1", "+FLAGS", "NIL"))
step("STORE -FLAGS", M.store("1", "-FLAGS", "($world)"))
step("SEARCH KEYWORD", M.search(None, "KEYWORD", "$hello"))
step("SEARCH UNKEYWORD", M.search(None, "UNKEYWORD", "$hello"))
step("SEARCH RECENT", M.search(None, "RECENT"))
step("SEARCH NEW", M.search(None, "NEW"))
step("COPY", (M.copy("1:2", "Other")[0], []))
step("FETCH", M.fetch("1:2", "(FLAGS)"))
M.select("Other")
step("FETCH Other", M.fetch("1:2", "(FLAGS)"))
M.subscribe("Other")
step("LSUB", M.lsub('""', "*"))
step("LIST bad UTF-7", M.list('""', "&Jjo"))
M.logout()
for line in out:
    print(line)
