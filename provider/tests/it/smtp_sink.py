"""An aiosmtpd handler for provider/tests/it/senders.rs: each message received is written to
<dir>/<n>.json, parsed, so the test reads headers and the decoded text body.

    python3 -m aiosmtpd -n -l 127.0.0.1:<port> -c smtp_sink.JsonDir <dir>

(with this folder on PYTHONPATH). The file is complete before the server answers 250, so a
client that got its 250 finds it.
"""

import email
import email.policy
import itertools
import json
import os


class JsonDir:
    def __init__(self, directory):
        self.directory = directory
        self.counter = itertools.count(1)

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 1:
            parser.error("JsonDir takes one argument: the folder to write messages to")
        return cls(args[0])

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "from": str(message["From"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "message_id": str(message["Message-ID"]),
            "content_type": message.get_content_type(),
            "charset": message.get_content_charset(),
            "body": body.get_content() if body is not None else None,
        }
        name = os.path.join(self.directory, f"{next(self.counter)}.json")
        with open(name + ".tmp", "w", encoding="utf-8") as file:
            json.dump(record, file)
        os.replace(name + ".tmp", name)
        return "250 Message accepted for delivery"
