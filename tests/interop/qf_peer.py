#!/usr/bin/env python3
"""The QuickFIX side of the interop tests (PyPI `quickfix` 1.16).

    qf_peer.py initiator PORT COUNT WORKDIR   sends NewOrderSingles O1..O<COUNT> to a fixeng
                                              acceptor (--app echo) and waits for every
                                              ExecutionReport
    qf_peer.py acceptor  PORT COUNT WORKDIR   answers each NewOrderSingle from a fixeng initiator
                                              (--app load) with an ExecutionReport, until COUNT
                                              orders arrived and the peer logged out

Both check that the other side's application messages arrive exactly once and in order
(ClOrdID O1, O2, ...), and print one JSON line with the counts and QuickFIX's final sequence
numbers: {"role", "received", "in_order", "anomalies", "sent", "next_sender", "next_target"}.
"""
import json
import os
import sys
import threading
import time

import quickfix as fix

ROLE, PORT, COUNT, WORK = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ME, PEER = ('CLIENT', 'EXCHANGE') if ROLE == 'initiator' else ('EXCHANGE', 'CLIENT')


class App(fix.Application):
    def __init__(self):
        super().__init__()
        self.sid = None
        self.logged_on = threading.Event()
        self.logged_out = threading.Event()
        self.received = 0
        self.next_id = 1
        self.anomalies = 0
        self.sent = 0
        self.done = threading.Event()

    def onCreate(self, sid):
        self.sid = sid

    def onLogon(self, sid):
        self.logged_on.set()
        self.logged_out.clear()

    def onLogout(self, sid):
        self.logged_on.clear()
        self.logged_out.set()

    def toAdmin(self, msg, sid):
        pass

    def fromAdmin(self, msg, sid):
        pass

    def toApp(self, msg, sid):
        pass

    def fromApp(self, msg, sid):
        t = fix.MsgType()
        msg.getHeader().getField(t)
        want = '8' if ROLE == 'initiator' else 'D'
        if t.getValue() != want:
            return
        cl = fix.ClOrdID()
        msg.getField(cl)
        n = int(cl.getValue()[1:])
        self.received += 1
        if n == self.next_id:
            self.next_id += 1
        else:
            self.anomalies += 1
        if ROLE == 'acceptor':
            er = fix.Message()
            er.getHeader().setField(fix.MsgType('8'))
            er.setField(fix.OrderID(str(n)))
            er.setField(fix.ExecID(str(n)))
            er.setField(fix.ClOrdID(cl.getValue()))
            er.setField(fix.ExecType('0'))
            er.setField(fix.OrdStatus('0'))
            er.setField(fix.Symbol('EUR/USD'))
            er.setField(fix.Side('1'))
            er.setField(fix.LeavesQty(100))
            er.setField(fix.CumQty(0))
            er.setField(fix.AvgPx(0))
            fix.Session.sendToTarget(er, sid)
            self.sent += 1
        if self.next_id > COUNT:
            self.done.set()


def main():
    os.makedirs(WORK, exist_ok=True)
    cfg = os.path.join(WORK, f'qf-{ROLE}.cfg')
    conn = (f'ConnectionType=acceptor\nSocketAcceptPort={PORT}\n' if ROLE == 'acceptor' else
            f'ConnectionType=initiator\nSocketConnectHost=127.0.0.1\nSocketConnectPort={PORT}\n'
            'ReconnectInterval=1\n')
    with open(cfg, 'w') as f:
        f.write(f'[DEFAULT]\n{conn}HeartBtInt=5\nStartTime=00:00:00\nEndTime=00:00:00\n'
                f'FileStorePath={WORK}/qf-store-{ROLE}\nFileLogPath={WORK}/qf-log-{ROLE}\n'
                'UseDataDictionary=N\nResetOnLogon=N\nValidateUserDefinedFields=N\n'
                f'[SESSION]\nBeginString=FIX.4.4\nSenderCompID={ME}\nTargetCompID={PEER}\n')
    settings = fix.SessionSettings(cfg)
    app = App()
    store = fix.FileStoreFactory(settings)
    log = fix.FileLogFactory(settings)
    node = (fix.SocketInitiator if ROLE == 'initiator' else fix.SocketAcceptor)(app, store, settings, log)
    node.start()
    deadline = time.time() + float(os.environ.get('INTEROP_TIMEOUT', '600'))
    if ROLE == 'initiator':
        if not app.logged_on.wait(30):
            print(json.dumps({'role': ROLE, 'error': 'no logon in 30 s'}))
            sys.exit(1)
        # Send in bursts, waiting for the session to be logged on (reconnects after cuts).
        while app.sent < COUNT and time.time() < deadline:
            if not app.logged_on.wait(1):
                continue
            n = app.sent + 1
            o = fix.Message()
            o.getHeader().setField(fix.MsgType('D'))
            o.setField(fix.ClOrdID(f'O{n}'))
            o.setField(fix.Symbol('EUR/USD'))
            o.setField(fix.Side('1'))
            o.setField(fix.OrderQty(100))
            o.setField(fix.OrdType('2'))
            o.setField(fix.Price(1.2345))
            o.setField(fix.TransactTime())
            o.setField(fix.HandlInst('1'))
            if fix.Session.sendToTarget(o, app.sid):
                app.sent += 1
            # Keep at most a few thousand unanswered (QuickFIX journals synchronously).
            while app.sent - app.received > 5000 and time.time() < deadline:
                time.sleep(0.001)
        app.done.wait(max(0, deadline - time.time()))
        time.sleep(1)  # the last heartbeats and resends settle
    else:
        app.done.wait(max(0, deadline - time.time()))
        # The fixeng load app logs out when it has every report.
        app.logged_out.wait(max(1, min(30, deadline - time.time())))
        time.sleep(0.5)
    s = fix.Session.lookupSession(app.sid)
    res = {'role': ROLE, 'received': app.received, 'in_order': app.next_id - 1,
           'anomalies': app.anomalies, 'sent': app.sent,
           'next_sender': s.getExpectedSenderNum(), 'next_target': s.getExpectedTargetNum()}
    node.stop()
    print(json.dumps(res), flush=True)
    ok = app.next_id - 1 == COUNT and app.anomalies == 0
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
