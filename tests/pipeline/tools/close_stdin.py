#!/usr/bin/env python3
"""A transformer that closes its stdin at once and then idles (until killed), so whoever
writes a request to it gets EPIPE while its stdout is still open."""
import os
import time

os.close(0)
time.sleep(3600)
