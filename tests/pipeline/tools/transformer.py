#!/usr/bin/env python3
"""A subprocess transformer for tideline's lambda tests (framing: pipeline/LAMBDA.md).

Per record, by its data:
  b"die"          exit(3) at once, without answering
  b"garbage"      answer the whole request with a line that is not JSON
  b"pid"          Ok, with this process's id
  b"count"        Ok, with how many requests this process has read
  b"drop..."      Dropped
  b"fail..."      ProcessingFailed
  anything else   Ok, upper-cased
"""
import base64
import json
import os
import sys

requests = 0
for line in sys.stdin:
    requests += 1
    event = json.loads(line)
    records = []
    garbage = False
    for record in event["records"]:
        data = base64.b64decode(record["data"])
        result = "Ok"
        if data == b"die":
            sys.exit(3)
        elif data == b"garbage":
            garbage = True
        elif data == b"pid":
            data = str(os.getpid()).encode()
        elif data == b"count":
            data = str(requests).encode()
        elif data.startswith(b"drop"):
            result = "Dropped"
        elif data.startswith(b"fail"):
            result = "ProcessingFailed"
        else:
            data = data.upper()
        records.append({"recordId": record["recordId"], "result": result,
                        "data": base64.b64encode(data).decode()})
    print("this is not json" if garbage else json.dumps({"records": records}), flush=True)
