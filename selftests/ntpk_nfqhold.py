#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Hold every packet of an NFQUEUE for a while, then accept it.

usage: ntpk_nfqhold.py QUEUE DELAY_MS

Binds queue QUEUE (nfnetlink_queue, metadata only) and gives each packet the
NF_ACCEPT verdict DELAY_MS after it arrived, in arrival order: a packet held
between the stack's receive and the hooks after the queueing rule, as a
slow userspace filter or a long backlog would hold it.  Prints "bound" once
the queue is bound; runs until killed.
"""

import os
import select
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS = 1, 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
NF_ACCEPT = 1


def attr(kind, payload):
	a = struct.pack('=HH', 4 + len(payload), kind) + payload
	return a + bytes(-len(a) % 4)


def message(kind, queue, attrs, seq, flags=NLM_F_REQUEST):
	body = struct.pack('=BBH', socket.AF_UNSPEC, 0, socket.htons(queue))
	body += b''.join(attrs)
	return struct.pack('=IHHII', 16 + len(body), NFNL_SUBSYS_QUEUE << 8 |
			   kind, flags, seq, 0) + body


def attrs_of(buf):
	out = {}
	while len(buf) >= 4:
		n, kind = struct.unpack_from('=HH', buf)
		if n < 4:
			break
		out[kind & 0x7fff] = buf[4:n]
		buf = buf[(n + 3) & ~3:]
	return out


def configure(s, queue, attrs, seq):
	s.send(message(NFQNL_MSG_CONFIG, queue, attrs, seq,
		       NLM_F_REQUEST | NLM_F_ACK))
	data = s.recv(65536)
	_, kind, _, _, _ = struct.unpack_from('=IHHII', data)
	err = struct.unpack_from('=i', data, 16)[0] if kind == NLMSG_ERROR \
		else -1
	if err:
		raise OSError(-err, 'nfqueue configuration: %s' %
			      os.strerror(-err))


def main():
	if len(sys.argv) != 3:
		print(__doc__.split('\n\n')[1], file=sys.stderr)
		return 2
	queue, delay = int(sys.argv[1]), int(sys.argv[2]) / 1000
	s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
	s.bind((0, 0))
	configure(s, queue, [attr(NFQA_CFG_CMD, struct.pack(
		'!BxH', NFQNL_CFG_CMD_BIND, 0))], 1)
	configure(s, queue, [attr(NFQA_CFG_PARAMS, struct.pack(
		'!IBxxx', 0, NFQNL_COPY_META))], 2)
	print('bound', flush=True)
	held = []	# (due, packet id), in arrival order
	seq = 3
	while True:
		wait = max(0.0, held[0][0] - time.monotonic()) if held else None
		if select.select([s], [], [], wait)[0]:
			data = s.recv(65536)
			while len(data) >= 16:
				n, kind = struct.unpack_from('=IH', data)
				if kind == NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_PACKET:
					a = attrs_of(data[20:n])
					pid = struct.unpack_from(
						'!I', a[NFQA_PACKET_HDR])[0]
					held.append((time.monotonic() + delay, pid))
				data = data[(n + 3) & ~3:]
		while held and held[0][0] <= time.monotonic():
			_, pid = held.pop(0)
			s.send(message(NFQNL_MSG_VERDICT, queue, [attr(
				NFQA_VERDICT_HDR, struct.pack('!II', NF_ACCEPT,
							      pid))], seq))
			seq += 1


if __name__ == '__main__':
	try:
		sys.exit(main())
	except OSError as e:
		print('ntpk_nfqhold: %s' % e, file=sys.stderr)
		sys.exit(1)
