#!/usr/bin/env python3
"""The demo's two people, and what each of them sees, printed as it happens.

Alice is a Matrix user: this script is her Matrix client (the client-server API over HTTP). She
talks to the bridge bot (login, login confirm, whoami, start-chat), joins the portal room the
bridge opens and chats with Bob. Bob is a native user of the reference gatekeeper, played by
`gk`: `gk listen` runs in the background, writes every event Bob receives to a file (one JSON
object a line) and serves the `gk` commands this script runs as Bob.

Every step waits for its effect on the other side; a wait that times out names what it waited
for and exits with status 1. Standard library only, so the demo needs nothing but Python.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

WAIT_S = 30
WIDTH = 21  # the name column: fits @interopbot:localhost
DIM, PLAIN = ("\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "")


class DemoError(Exception):
    """A step failed; the message says which and why."""


def show(who, text, command=None):
    """Prints one line of the conversation: who did or saw it, and what."""
    pad = " " * (WIDTH + 2) + " │ "
    print(f"  {who:>{WIDTH}} │ " + text.replace("\n", "\n" + pad))
    if command:
        print(pad + DIM + "$ " + command + PLAIN)
    sys.stdout.flush()


def short(text, n=28):
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


class Matrix:
    """Alice's Matrix client: sends, and collects what /sync brings so waits can pick from it."""

    def __init__(self, homeserver, token, user):
        self.homeserver = homeserver.rstrip("/")
        self.token = token
        self.user = user
        self.since = None
        # (kind, room, event) in arrival order; kind is timeline, ephemeral or invite.
        self.seen = []

    def call(self, method, path, body=None, timeout=40):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.homeserver + path, data=data, method=method)
        request.add_header("Authorization", "Bearer " + self.token)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            raise DemoError(f"{method} {path} failed: {error.code} {error.read().decode()}")
        except OSError as error:
            raise DemoError(f"{method} {path} failed: {error}")

    def room_path(self, room, rest):
        return f"/_matrix/client/v3/rooms/{urllib.parse.quote(room)}/{rest}"

    def send(self, room, event_type, content):
        txn = f"demo{time.time_ns()}"
        path = self.room_path(room, f"send/{event_type}/{txn}")
        return self.call("PUT", path, content)["event_id"]

    def send_text(self, room, text, reply_to=None):
        content = {"msgtype": "m.text", "body": text}
        if reply_to:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        return self.send(room, "m.room.message", content)

    def react(self, room, event_id, key):
        relation = {"rel_type": "m.annotation", "event_id": event_id, "key": key}
        return self.send(room, "m.reaction", {"m.relates_to": relation})

    def typing(self, room, on=True):
        path = self.room_path(room, f"typing/{urllib.parse.quote(self.user)}")
        self.call("PUT", path, {"typing": on, "timeout": 10000} if on else {"typing": False})

    def read(self, room, event_id):
        self.call("POST", self.room_path(room, f"receipt/m.read/{urllib.parse.quote(event_id)}"), {})

    def join(self, room):
        self.call("POST", f"/_matrix/client/v3/join/{urllib.parse.quote(room)}", {})

    def mark(self):
        """A position in what was seen: waits after it ignore everything before."""
        return len(self.seen)

    def sync(self, timeout_ms):
        query = {"timeout": str(timeout_ms)}
        if self.since:
            query["since"] = self.since
        sync = self.call("GET", "/_matrix/client/v3/sync?" + urllib.parse.urlencode(query))
        self.since = sync.get("next_batch")
        rooms = sync.get("rooms", {})
        for room, data in rooms.get("join", {}).items():
            for event in data.get("timeline", {}).get("events", []):
                self.seen.append(("timeline", room, event))
            for event in data.get("ephemeral", {}).get("events", []):
                self.seen.append(("ephemeral", room, event))
        for room, data in rooms.get("invite", {}).items():
            self.seen.append(("invite", room, data.get("invite_state", {}).get("events", [])))

    def wait(self, what, match, after=0, timeout_s=WAIT_S):
        """Syncs until `match(kind, room, event)` holds for something seen after `after`."""
        deadline = time.monotonic() + timeout_s
        checked = after
        while True:
            for kind, room, event in self.seen[checked:]:
                if match(kind, room, event):
                    return room, event
            checked = len(self.seen)
            left = deadline - time.monotonic()
            if left <= 0:
                raise DemoError(f"timed out after {timeout_s} s waiting for {what} (on Matrix)")
            self.sync(int(min(left, 5) * 1000))

    def wait_message(self, what, room, sender, after, needle=""):
        def match(kind, r, e):
            return (kind == "timeline" and r == room and e.get("sender") == sender
                    and e.get("type") == "m.room.message"
                    and needle in e.get("content", {}).get("body", ""))
        return self.wait(what, match, after)[1]


class Gk:
    """Bob, a native gatekeeper user: `gk` commands, and the events `gk listen` writes."""

    def __init__(self, binary, home, events_file):
        self.binary = binary
        self.home = home
        self.events_file = events_file
        self.offset = 0
        self.seen = []

    def command_line(self, args):
        return "gk " + " ".join(shlex.quote(a) for a in args)

    def run(self, *args):
        argv = [self.binary, "--home", self.home, *args]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            raise DemoError(f"timed out after {WAIT_S} s waiting for `{self.command_line(args)}`")
        if done.returncode != 0:
            raise DemoError(f"`{self.command_line(args)}` failed ({done.returncode}): "
                            f"{done.stderr.strip()}")
        return json.loads(done.stdout) if done.stdout.strip() else {}

    def mark(self):
        self.read_new()
        return len(self.seen)

    def read_new(self):
        with open(self.events_file, encoding="utf-8") as f:
            f.seek(self.offset)
            while True:
                line = f.readline()
                if not line.endswith("\n"):
                    break  # not fully written yet; read it next time
                self.offset = f.tell()
                try:
                    self.seen.append(json.loads(line))
                except json.JSONDecodeError:
                    pass

    def wait(self, what, match, after=0, timeout_s=WAIT_S):
        deadline = time.monotonic() + timeout_s
        while True:
            self.read_new()
            for event in self.seen[after:]:
                if match(event):
                    return event
            if time.monotonic() > deadline:
                raise DemoError(f"timed out after {timeout_s} s waiting for {what} "
                                f"(in {self.events_file})")
            time.sleep(0.05)


def is_space(invite_state):
    return any(e.get("type") == "m.room.create" and e.get("content", {}).get("type") == "m.space"
               for e in invite_state)


def room_name(invite_state):
    for e in invite_state:
        if e.get("type") == "m.room.name" and e.get("content", {}).get("name"):
            return e["content"]["name"]
    return None


def conversation(args):
    alice = Matrix(args.homeserver, args.token, args.user)
    bob = Gk(args.gk, args.gk_home, args.gk_events)
    me, bot = args.user, args.bot
    bob_label = f"{args.name} (gk)"
    alice.sync(0)

    print(f"\n{me} opens a chat with the bridge bot {bot}:\n")
    mark = alice.mark()
    control = alice.call("POST", "/_matrix/client/v3/createRoom",
                         {"invite": [bot], "is_direct": True,
                          "preset": "trusted_private_chat"})["room_id"]
    show(me, f"(invites {bot})")

    def command(text, needle):
        mark = alice.mark()
        alice.send_text(control, text)
        show(me, text)
        answer = alice.wait_message(f"the bot's answer to {text!r} (containing {needle!r})",
                                    control, bot, mark, needle)
        show(bot, answer["content"]["body"])
        return answer["content"]["body"]

    welcome = alice.wait_message("the bot's welcome", control, bot, mark)
    show(bot, welcome["content"]["body"])
    command("login", "login confirm")
    command("login confirm", "You are logged in")
    whoami = command("whoami", f"({me})")
    alice_remote = whoami.split(" as ", 1)[1].split()[0] if " as " in whoami else ""
    if "@" not in alice_remote:
        raise DemoError(f"no gatekeeper id in the whoami answer: {whoami!r}")
    if args.save_id:
        with open(args.save_id, "w", encoding="utf-8") as f:
            f.write(alice_remote + "\n")

    mark = alice.mark()
    command(f"start-chat {args.phone}", f"Opening a chat with {args.name}")

    # The bridge invites alice to the portal, and (separate inbox) to its "WhatsApp" Space.
    portal, joined, space = None, set(), None
    while portal is None:
        room, state = alice.wait("the invitation to the portal room",
                                 lambda k, r, e: k == "invite" and r not in joined, mark)
        alice.join(room)
        joined.add(room)
        if is_space(state):
            space = room
            show(me, f"joins the Space \"{room_name(state) or room}\" (invited by the bridge)")
        else:
            portal = room
            inviter = next((e.get("sender") for e in state if e.get("type") == "m.room.member"
                            and e.get("state_key") == me), None)
            show(me, f"joins the portal {room} (invited by {inviter})")
    ghost = alice.call("GET", f"/_matrix/client/v3/profile/{urllib.parse.quote(args.ghost)}")
    ghost_name = ghost.get("displayname") or args.ghost
    show(me, f"  {args.ghost} is called \"{ghost_name}\"")

    print(f"\n{me} and {args.name} ({args.phone}, on the gatekeeper) talk:\n")

    # Matrix → gatekeeper: a message.
    hello_text = "Hello Bob, this is Matrix!"
    bob_mark = bob.mark()
    hello = alice.send_text(portal, hello_text)
    show(me, hello_text)
    event = bob.wait(f"{args.name} to receive {hello_text!r}",
                     lambda e: e.get("event") == "message" and e.get("text") == hello_text,
                     bob_mark)
    show(bob_label, f"← received from {event['from']}: {event['text']}")
    hello_remote = event["id"]
    if event["from"] != alice_remote:
        raise DemoError(f"the message came from {event['from']}, whoami said {alice_remote}")

    # Gatekeeper → Matrix: typing, then a reply.
    mark = alice.mark()
    bob.run("typing", alice_remote, "on")
    show(bob_label, "typing…", bob.command_line(["typing", alice_remote, "on"]))
    alice.wait(f"{args.ghost} to be shown typing",
               lambda k, r, e: k == "ephemeral" and r == portal and e.get("type") == "m.typing"
               and args.ghost in e.get("content", {}).get("user_ids", []), mark)
    show(me, f"← {ghost_name} is typing…")

    reply_text = "Hi Alice! Nice to meet you."
    mark = alice.mark()
    argv = ["reply", alice_remote, hello_remote, reply_text]
    sent = bob.run(*argv)
    bob_msg_remote = sent["id"]
    show(bob_label, f"{reply_text} (a reply to \"{short(hello_text)}\")", bob.command_line(argv))
    event = alice.wait_message(f"{args.ghost}'s reply in the portal", portal, args.ghost, mark,
                               reply_text)
    bob_msg = event["event_id"]
    in_reply_to = (event["content"].get("m.relates_to", {})
                   .get("m.in_reply_to", {}).get("event_id"))
    if in_reply_to != hello:
        raise DemoError(f"the reply points at {in_reply_to}, not at alice's message {hello}")
    show(me, f"← {ghost_name} replied to \"{short(hello_text)}\": {event['content']['body']}")

    # Matrix → gatekeeper: read receipt, typing, a reaction, a reply.
    bob_mark = bob.mark()
    alice.read(portal, bob_msg)
    show(me, f"reads \"{short(reply_text)}\"")
    bob.wait(f"{args.name} to get alice's read receipt",
             lambda e: e.get("event") == "receipt" and e.get("receipt") == "read"
             and bob_msg_remote in e.get("ids", []), bob_mark)
    show(bob_label, f"← read receipt: \"{short(reply_text)}\" was read")

    bob_mark = bob.mark()
    alice.typing(portal, True)
    show(me, "typing…")
    bob.wait(f"{args.name} to see alice typing",
             lambda e: e.get("event") == "typing" and e.get("state") == "composing", bob_mark)
    show(bob_label, f"← {alice_remote} is typing…")

    bob_mark = bob.mark()
    alice.react(portal, bob_msg, "👍")
    show(me, f"reacts 👍 to \"{short(reply_text)}\"")
    event = bob.wait(f"{args.name} to receive alice's 👍",
                     lambda e: e.get("event") == "reaction" and not e.get("revoke")
                     and e.get("target") == bob_msg_remote, bob_mark)
    show(bob_label, f"← {event['emoji']} on \"{short(reply_text)}\"")

    answer_text = "Likewise, Bob. Talk soon!"
    bob_mark = bob.mark()
    alice.send_text(portal, answer_text, reply_to=bob_msg)
    alice.typing(portal, False)
    show(me, f"{answer_text} (a reply to \"{short(reply_text)}\")")
    event = bob.wait(f"{args.name} to receive alice's reply",
                     lambda e: e.get("event") == "message" and e.get("text") == answer_text,
                     bob_mark)
    if event.get("reply_to") != bob_msg_remote:
        raise DemoError(f"alice's reply arrived replying to {event.get('reply_to')}, "
                        f"not to {bob_msg_remote}")
    show(bob_label, f"← reply to \"{short(reply_text)}\": {event['text']}")

    # Gatekeeper → Matrix: a reaction.
    mark = alice.mark()
    argv = ["react", alice_remote, hello_remote, "❤️"]
    bob.run(*argv)
    show(bob_label, f"reacts ❤️ to \"{short(hello_text)}\"", bob.command_line(argv))

    def reaction(k, r, e):
        rel = e.get("content", {}).get("m.relates_to", {})
        return (k == "timeline" and r == portal and e.get("type") == "m.reaction"
                and e.get("sender") == args.ghost and rel.get("event_id") == hello)
    _, event = alice.wait(f"{args.ghost}'s reaction in the portal", reaction, mark)
    key = event["content"]["m.relates_to"]["key"]
    show(me, f"← {ghost_name} reacted {key} to \"{short(hello_text)}\"")

    # The inbox Space (separate inbox), if its invitation came after the portal's.
    if args.expect_space:
        if space is None:
            space, state = alice.wait("the invitation to the inbox Space",
                                      lambda k, r, e: k == "invite" and r not in joined
                                      and is_space(e))
            alice.join(space)
            show(me, f"joins the Space \"{room_name(state) or space}\" (invited by the bridge)")
        path = alice.room_path(space, f"state/m.space.child/{urllib.parse.quote(portal)}")
        if not alice.call("GET", path).get("via"):
            raise DemoError(f"the Space {space} does not list the portal {portal}")
        show(me, f"  the Space lists the portal with {args.name}")
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--homeserver", required=True)
    parser.add_argument("--token", required=True, help="alice's access token")
    parser.add_argument("--user", required=True, help="alice's Matrix ID")
    parser.add_argument("--bot", required=True)
    parser.add_argument("--gk", required=True, help="the gk binary")
    parser.add_argument("--gk-home", required=True, help="Bob's gk home (where gk listen runs)")
    parser.add_argument("--gk-events", required=True, help="the file gk listen writes to")
    parser.add_argument("--phone", required=True, help="Bob's phone number")
    parser.add_argument("--name", default="Bob", help="Bob's name on the gatekeeper")
    parser.add_argument("--ghost", required=True, help="Bob's ghost on Matrix")
    parser.add_argument("--expect-space", action="store_true",
                        help="the inbox is separate: wait for the Space invitation too")
    parser.add_argument("--save-id", help="write alice's gatekeeper id to this file")
    args = parser.parse_args()
    if not os.access(args.gk, os.X_OK):
        sys.exit(f"demo: {args.gk} is not an executable")
    try:
        conversation(args)
    except DemoError as error:
        print(f"\ndemo: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
