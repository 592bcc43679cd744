"""N wrong logins sent at the same moment (one thread each); prints the status counts."""
import collections
import concurrent.futures
import json
import sys
import threading
import urllib.error
import urllib.request

url, n = sys.argv[1], int(sys.argv[2])
start = threading.Barrier(n)


def attempt(i: int) -> int:
    body = json.dumps({"email": f"burst-{i}@example.com", "password": "wrong password"}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    start.wait()
    try:
        with urllib.request.urlopen(req, timeout=60) as res:
            return res.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


with concurrent.futures.ThreadPoolExecutor(n) as pool:
    counts = collections.Counter(pool.map(attempt, range(n)))
print(", ".join(f"{count}× {status or 'failed'}" for status, count in sorted(counts.items())))
