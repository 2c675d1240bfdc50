"""Create a Label Studio project through its API and import the tasks (admin token).

    python make_project.py --base http://127.0.0.1:18080 --token-file admin.token --tasks 10000

Project: single-choice config with two labels, maximum_annotations = 1 (overlap 1), default
sampling (sequential). Tasks: {"text": "..."}, imported by POST /api/projects/{id}/import in
batches. Prints the project id on stdout (the last line). Loopback only.
"""
import argparse
import json
import sys
import time
from urllib.parse import urlparse

import requests

LABEL_CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="label" toName="text" choice="single" showInline="true">
    <Choice value="Positive"/>
    <Choice value="Negative"/>
  </Choices>
</View>"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--base', required=True)
    ap.add_argument('--token-file', required=True)
    ap.add_argument('--tasks', type=int, default=10000)
    ap.add_argument('--batch', type=int, default=2500)
    ap.add_argument('--title', default='bench')
    a = ap.parse_args()
    if urlparse(a.base).hostname not in ('127.0.0.1', 'localhost'):
        ap.error('loopback only')
    base = a.base.rstrip('/')
    s = requests.Session()
    s.headers.update({'Authorization': 'Token ' + open(a.token_file).read().strip(),
                      'Content-Type': 'application/json'})
    r = s.post(f'{base}/api/projects', data=json.dumps({
        'title': a.title, 'label_config': LABEL_CONFIG, 'maximum_annotations': 1,
    }), timeout=60)
    if r.status_code != 201:
        sys.exit(f'create project: {r.status_code} {r.text[:500]}')
    pid = r.json()['id']
    t0 = time.monotonic()
    for start in range(0, a.tasks, a.batch):
        batch = [{'text': f'Item {i}: the quick brown fox number {i} jumps over the lazy dog.'}
                 for i in range(start, min(a.tasks, start + a.batch))]
        r = s.post(f'{base}/api/projects/{pid}/import', data=json.dumps(batch), timeout=300)
        if r.status_code != 201:
            sys.exit(f'import: {r.status_code} {r.text[:500]}')
    # the import may be asynchronous: wait until the project reports all tasks
    for _ in range(300):
        r = s.get(f'{base}/api/projects/{pid}', timeout=60)
        n = r.json().get('task_number')
        if n is not None and n >= a.tasks:
            break
        time.sleep(1)
    else:
        sys.exit(f'project {pid} has {n} tasks, expected {a.tasks}')
    print(f'project {pid}: {n} tasks imported in {time.monotonic() - t0:.1f} s '
          f"(maximum_annotations={r.json().get('maximum_annotations')})", file=sys.stderr)
    print(pid)


main()
