"""The private broker itself: quorum queue with publisher confirms, and confirmed messages
surviving a SIGKILL of beam.smp."""


def bodies(n):
    return [b"message-%06d" % i for i in range(n)]


def test_publish_confirm_and_drain(broker, broker_fresh_queue):
    broker.declare_quorum(broker_fresh_queue)
    broker.publish(broker_fresh_queue, bodies(100))
    got = [body for _, body in broker.drain(broker_fresh_queue)]
    assert got == bodies(100)
    assert broker.queue_depth(broker_fresh_queue) == 0


def test_confirmed_messages_survive_sigkill(broker, broker_fresh_queue):
    broker.declare_quorum(broker_fresh_queue)
    broker.publish(broker_fresh_queue, bodies(100))
    broker.sync_metadata()  # else a kill this soon after the declare loses the queue itself
    old_beam = broker.beam_pid()
    broker.kill()
    broker.restart()
    assert broker.beam_pid() != old_beam
    # Drain, do not count: a quorum queue miscounts for about a second after a restart.
    got = sorted(body for _, body in broker.drain(broker_fresh_queue))
    assert got == bodies(100)
