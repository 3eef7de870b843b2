"""Mail: the only code that talks SMTP. Everything else queues a message in the outbox.

compose.py    templates/email/<name>.{subject.txt,txt,html} -> an outbox row, in the caller's transaction
message.py    an outbox row -> a Flask-Mail Message
transport.py  Flask-Mail's Mail and Connection (SMTP), or .eml files under instance/mail/ when no MAIL_SERVER is set
delivery.py   delivery passes: claim due rows, send, record the outcome (workers and the CLI)
thread.py     the one-process default: a background thread woken after commits that queue mail
"""
