#!/usr/bin/env python3
"""A tiny Matrix client for the demo: it plays a freshly registered user who opens a chat with
the bridge bot, asks it for `help`, and prints the conversation as it happens.

Standard library only, so the demo needs nothing installed beyond Python itself.
"""
import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


class Client:
    def __init__(self, homeserver, token):
        self.homeserver = homeserver.rstrip("/")
        self.token = token
        self.since = None
        self.txn = 0

    def call(self, method, path, body=None, timeout=40):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.homeserver + path, data=data, method=method)
        request.add_header("Authorization", "Bearer " + self.token)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            sys.exit(f"demo: {method} {path} failed: {error.code} {error.read().decode()}")

    def send_text(self, room, text):
        self.txn += 1
        path = f"/_matrix/client/v3/rooms/{urllib.parse.quote(room)}/send/m.room.message/demo{time.time_ns()}"
        return self.call("PUT", path, {"msgtype": "m.text", "body": text})["event_id"]

    def wait_for_message(self, room, sender, deadline_s=30):
        """Long-polls /sync until `sender` posts in `room`; returns the event."""
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            query = {"timeout": "5000"}
            if self.since:
                query["since"] = self.since
            sync = self.call("GET", "/_matrix/client/v3/sync?" + urllib.parse.urlencode(query))
            self.since = sync.get("next_batch")
            timeline = sync.get("rooms", {}).get("join", {}).get(room, {}).get("timeline", {})
            for event in timeline.get("events", []):
                if event.get("type") == "m.room.message" and event.get("sender") == sender:
                    return event
        sys.exit(f"demo: no message from {sender} within {deadline_s} s; see the bridge log")


def show(who, text):
    print(f"  {who:>22} │ " + text.replace("\n", "\n" + " " * 25 + "│ "))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--homeserver", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--bot", required=True)
    args = parser.parse_args()

    client = Client(args.homeserver, args.token)
    client.call("GET", "/_matrix/client/v3/sync?timeout=0")
    room = client.call("POST", "/_matrix/client/v3/createRoom",
                       {"invite": [args.bot], "is_direct": True, "preset": "trusted_private_chat"})["room_id"]
    print(f"\n{args.user} opened a chat with {args.bot} (room {room}):\n")
    show(args.user, f"(invites {args.bot})")
    welcome = client.wait_for_message(room, args.bot)
    show(args.bot, welcome["content"]["body"])
    client.send_text(room, "help")
    show(args.user, "help")
    answer = client.wait_for_message(room, args.bot)
    show(args.bot, answer["content"]["body"])
    print()


if __name__ == "__main__":
    main()
