#!/usr/bin/env python3
"""The HTTP client of bench/replicas.sh: one keep-alive connection, each request timed with a
monotonic clock. Usage: python3 bench/replicas-client.py COMMAND BASE_URL KEY ARGS…

  upload BASE KEY PROJECT FILE              publish a .tar.gz; prints the deploy id
  await-deploy BASE KEY PROJECT ID SECONDS  waits until the deploy ends; prints "STATUS RELEASE", exit 1 unless succeeded
  current BASE KEY PROJECT                  prints "VERSION COMMIT" of the active release
  rollbacks BASE KEY PROJECT N WARMUP       rolls back between v1 and v2 N times after WARMUP; prints "P50 P99 COUNT ERRORS"
                                            (BASE may list several, comma-separated: used in turn)
  session BASE KEY PROJECT                  opens a session and sends one message; prints "MILLISECONDS VERSION ANSWER"
"""
import http.client
import json
import math
import sys
import time
import urllib.parse


class Api:
    def __init__(self, base, key):
        url = urllib.parse.urlsplit(base)
        self.connection = http.client.HTTPConnection(url.hostname, url.port, timeout=300)
        self.key = key

    def call(self, method, path, body=None, content_type="application/json"):
        headers = {"Authorization": "Bearer " + self.key}
        if body is not None:
            headers["Content-Type"] = content_type
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
        self.connection.request(method, path, body, headers)
        answer = self.connection.getresponse()
        data = answer.read()
        try:
            return answer.status, json.loads(data) if data else None
        except ValueError:
            return answer.status, data.decode("utf-8", "replace")


def percentile(sorted_values, p):
    return sorted_values[max(0, min(len(sorted_values) - 1, math.ceil(p * len(sorted_values)) - 1))]


def main(command, base, key, *args):
    apis = [Api(b, key) for b in base.split(",")]
    api = apis[0]
    if command == "upload":
        project, file = args
        with open(file, "rb") as f:
            status, body = api.call("POST", f"/agent_projects/{project}/releases", f.read(), "application/gzip")
        if status != 202:
            sys.exit(f"upload of {file} to {project} answered {status}: {body}")
        print(body["id"])
    elif command == "await-deploy":
        project, deploy, seconds = args
        deadline = time.monotonic() + float(seconds)
        while time.monotonic() < deadline:
            status, body = api.call("GET", f"/agent_projects/{project}/deploys/{deploy}")
            if status == 200 and body["status"] not in ("queued", "building"):
                print(body["status"], body.get("release") or "-", body.get("error") or "")
                sys.exit(0 if body["status"] == "succeeded" else 1)
            time.sleep(0.05)
        sys.exit(f"deploy {deploy} of {project} did not end within {seconds} s")
    elif command == "current":
        (project,) = args
        status, body = api.call("GET", f"/agent_projects/{project}")
        if status != 200 or not body.get("current_release"):
            sys.exit(f"{project} has no active release ({status}: {body})")
        print(body["current_release"]["version"], body["current_release"]["commit_sha"])
    elif command == "rollbacks":
        project, runs, warmup = args[0], int(args[1]), int(args[2])
        times, errors = [], {}
        for i in range(warmup + runs):
            started = time.perf_counter()
            status, body = apis[i % len(apis)].call("POST", f"/agent_projects/{project}/rollback",
                                                    {"to": "v1" if i % 2 == 0 else "v2"})
            elapsed = (time.perf_counter() - started) * 1000
            if status != 200:
                errors[status] = errors.get(status, 0) + 1
                if len(errors) == 1 and errors[status] == 1:
                    print(f"first failed rollback: {status} {body}", file=sys.stderr)
            elif i >= warmup:
                times.append(elapsed)
        times.sort()
        failed = ",".join(f"{s}x{n}" for s, n in sorted(errors.items())) or "none"
        if not times:
            print(f"n/a n/a 0 {failed}")
        else:
            print(f"{percentile(times, 0.5):.1f} {percentile(times, 0.99):.1f} {len(times)} {failed}")
    elif command == "session":
        (project,) = args
        started = time.perf_counter()
        status, created = api.call("POST", f"/v1/projects/{project}/sessions", {})
        if status != 201:
            sys.exit(f"session on {project} answered {status}: {created}")
        status, reply = api.call("POST", f"/v1/projects/{project}/sessions/{created['id']}/messages",
                                 {"text": "which release is this?"})
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200:
            sys.exit(f"the first message of {created['id']} answered {status}: {reply}")
        print(f"{elapsed:.0f} {created['project']['version']} {reply['message']['text']}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
