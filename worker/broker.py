"""Celery's Redis transport, made to survive losing Redis while a task runs.

When the connection drops, Celery lets go of the transport before the old channel is done
with: putting that channel's unacknowledged messages back on their queue, or
acknowledging a task that finishes afterwards, then fails with AttributeError and stops
the whole worker instead of letting it reconnect. Here both are skipped once the channel's
connection is gone. The messages stay in Redis's set of unacknowledged ones, delivered
again after the visibility timeout, when they find their job ended (or taken again
through the jobs table, see worker.recovery) and do nothing.
"""

from kombu.transport import redis


class QoS(redis.QoS):
    def _connection_gone(self) -> bool:
        return getattr(self.channel.connection, "client", None) is None

    def restore_unacked(self, client=None):
        if self._connection_gone():
            return None
        return super().restore_unacked(client)

    def ack(self, delivery_tag):
        if self._connection_gone():
            # Only forget it here; Redis keeps it until the visibility timeout.
            super(redis.QoS, self).ack(delivery_tag)
            return
        super().ack(delivery_tag)

    def reject(self, delivery_tag, requeue=False):
        if self._connection_gone():
            super(redis.QoS, self).ack(delivery_tag)
            return
        super().reject(delivery_tag, requeue)


class Channel(redis.Channel):
    QoS = QoS


class Transport(redis.Transport):
    Channel = Channel
