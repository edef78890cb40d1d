"""What every taskring handle class shares: closing its C handle once (close(), a with block
or garbage collection), and Closed for calls after that."""

import threading

from .errors import Closed


class Handle:
    """Subclasses call _attach(handle, close_fn) in __init__ and _handle() in each call."""

    _h = None

    def _attach(self, handle, close_fn) -> None:
        self._h = handle
        self._close_fn = close_fn
        self._close_lock = threading.Lock()

    def _handle(self):
        h = self._h
        if h is None:
            raise Closed(f"this taskring.{type(self).__name__} is closed")
        return h

    def close(self) -> None:
        """Detaches (frees the daemon's client entry). Later calls raise Closed. Do not close
        a handle another thread is using."""
        lock = getattr(self, "_close_lock", None)
        if lock is None:
            return  # __init__ failed before attaching
        with lock:
            h, self._h = self._h, None
        if h is not None:
            self._close_fn(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if self._h is not None:
            self.close()
