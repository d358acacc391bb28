#!/usr/bin/env python3
"""The one login flow of SMTP, POP3 and IMAP, seen by clients nobody here wrote (smtplib, poplib,
imaplib): failed logins counted in the store, and a store that fails during login.

usage: login_checks.py MODE IMAPS_PORT POP3S_PORT SUBMISSIONS_PORT CA_FILE [DATABASE]
  count        one wrong password each over IMAP, POP3 and SMTP; with --auth-lockout-failures 3 the
               network is then locked out, so IMAP refuses the right password too
  still-locked after a restart: POP3 and SMTP refuse the right password (the count is in the store)
  store-down   the account table is renamed away under the running server: every protocol answers its
               temporary error (never "wrong password"), more often than the lockout allows; once the
               table is back the right password logs in (nothing was counted)
The account alice@example.org / "correct horse battery" exists. Prints "ok <check>" per check and
"all checks passed" at the end; exits 1 at the first failure.
"""
import imaplib
import poplib
import smtplib
import sqlite3
import ssl
import sys

from smtp_raw import HOST, check

mode, imaps_port, pop3s_port, submissions_port, ca_file = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                                           int(sys.argv[4]), sys.argv[5])
USER, PASSWORD = "alice@example.org", "correct horse battery"
context = ssl.create_default_context(cafile=ca_file)
context.check_hostname = False


def imap_login(password):
    """The tagged answer to LOGIN as text."""
    imap = imaplib.IMAP4_SSL(HOST, imaps_port, ssl_context=context, timeout=15)
    try:
        imap.login(USER, password)
        imap.logout()
        return "OK"
    except imaplib.IMAP4.error as error:
        return str(error)
    except imaplib.IMAP4.abort as error:
        return "closed: " + str(error)


def pop3_login(password):
    pop = poplib.POP3_SSL(HOST, pop3s_port, context=context, timeout=15)
    try:
        pop.user(USER)
        answer = pop.pass_(password).decode()
        pop.quit()
        return answer
    except poplib.error_proto as error:
        return str(error)


def smtp_login(password):
    """(code, text) of AUTH PLAIN."""
    client = smtplib.SMTP_SSL(HOST, submissions_port, context=context, timeout=15)
    client.ehlo("client.test")
    try:
        # One mechanism: smtplib's login() would try the next one after a refusal, a second failure.
        client.user, client.password = USER, password
        client.auth("PLAIN", client.auth_plain)
        return (235, "")
    except smtplib.SMTPAuthenticationError as error:
        return (error.smtp_code, error.smtp_error.decode())
    except smtplib.SMTPServerDisconnected as error:
        return (0, str(error))
    finally:
        try:
            client.quit()
        except smtplib.SMTPServerDisconnected:
            pass


if mode == "count":
    answer = imap_login("wrong one")
    check("IMAP: a wrong password is AUTHENTICATIONFAILED", "AUTHENTICATIONFAILED" in answer, answer)
    answer = pop3_login("wrong two")
    check("POP3: a wrong password is -ERR [AUTH]", "[AUTH]" in answer, answer)
    answer = smtp_login("wrong three")
    check("SMTP: a wrong password is 535 5.7.8", answer[0] == 535 and "5.7.8" in answer[1], answer)
    answer = imap_login(PASSWORD)
    check("after three failures over three protocols, IMAP refuses the right password: locked out",
          "UNAVAILABLE" in answer and "Too many failed logins" in answer, answer)
elif mode == "still-locked":
    answer = pop3_login(PASSWORD)
    check("after a restart POP3 still refuses the right password: [SYS/TEMP] locked out",
          "[SYS/TEMP]" in answer and "Too many failed logins" in answer, answer)
    answer = smtp_login(PASSWORD)
    check("... and so does SMTP (421 4.7.0)", answer[0] in (0, 421), answer)
elif mode == "store-down":
    database = sqlite3.connect(sys.argv[6], timeout=15)
    database.execute("ALTER TABLE account RENAME TO account_away")
    database.commit()
    for attempt in range(3):
        answer = imap_login(PASSWORD)
        check(f"IMAP LOGIN while the store fails ({attempt + 1}): NO [UNAVAILABLE], not a wrong password",
              "[UNAVAILABLE]" in answer and "AUTHENTICATIONFAILED" not in answer and "Too many" not in answer, answer)
        answer = pop3_login(PASSWORD)
        check(f"POP3 PASS while the store fails ({attempt + 1}): -ERR [SYS/TEMP]",
              "[SYS/TEMP]" in answer and "Too many" not in answer, answer)
        answer = smtp_login(PASSWORD)
        check(f"SMTP AUTH while the store fails ({attempt + 1}): 454 4.7.0", answer[0] == 454 and "4.7.0" in answer[1], answer)
    database.execute("ALTER TABLE account_away RENAME TO account")
    database.commit()
    database.close()
    answer = imap_login(PASSWORD)
    check("the store back: IMAP logs in (the failures of the store counted nothing)", answer == "OK", answer)
    answer = pop3_login(PASSWORD)
    check("... and POP3", answer.startswith("+OK"), answer)
    check("... and SMTP", smtp_login(PASSWORD)[0] == 235)
else:
    check("mode", False, mode)
print("all checks passed")
