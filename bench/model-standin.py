#!/usr/bin/env python3
"""A local stand-in for the Anthropic Messages API, for trying the real Claude Code CLI against Karta
without a model: every POST /v1/messages is answered (streamed or not) with one short text reply that
echoes the last user message. Usage: python3 bench/model-standin.py [PORT]; then run Karta with
ANTHROPIC_BASE_URL=http://127.0.0.1:PORT ANTHROPIC_API_KEY=x --harness-env ANTHROPIC_BASE_URL,ANTHROPIC_API_KEY
(and --harness-network host, since the stand-in listens on loopback)."""
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

def last_user_text(body):
    for message in reversed(body.get("messages", [])):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        texts = [part.get("text", "") for part in content if part.get("type") == "text"]
        texts = [t for t in texts if not t.startswith("<system-reminder>")]
        if texts:
            return texts[-1]
    return ""

class StandIn(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        if not self.path.startswith("/v1/messages") or self.path.startswith("/v1/messages/count_tokens"):
            return self.reply(200, {"input_tokens": 1})
        words = ["You", " said:", " " + last_user_text(body)[:200]]
        usage = {"input_tokens": 1, "output_tokens": len(words)}
        message = {"id": "msg_standin", "type": "message", "role": "assistant", "model": body.get("model", "standin"),
                   "content": [], "stop_reason": None, "stop_sequence": None, "usage": usage}
        if not body.get("stream"):
            message.update(content=[{"type": "text", "text": "".join(words)}], stop_reason="end_turn")
            return self.reply(200, message)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        events = [("message_start", {"type": "message_start", "message": message}),
                  ("content_block_start", {"type": "content_block_start", "index": 0,
                                           "content_block": {"type": "text", "text": ""}})]
        events += [("content_block_delta", {"type": "content_block_delta", "index": 0,
                                            "delta": {"type": "text_delta", "text": w}}) for w in words]
        events += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
                   ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn",
                                                                          "stop_sequence": None}, "usage": usage}),
                   ("message_stop", {"type": "message_stop"})]
        for name, data in events:
            self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()
        self.close_connection = True

    def do_GET(self):
        self.reply(200, {"data": []})

    def do_HEAD(self):
        self.reply(200, {})

    def reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        sys.stderr.write("standin: " + (args[0] % args[1:]) + "\n")

if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 8787), StandIn).serve_forever()
