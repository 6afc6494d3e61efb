"""Loaded models for the serving processes: each version is loaded once, never per request.

A background thread in every serving process watches the ACTIVE pointer and loads a newly
activated version before it swaps it in, so predictions never wait for a load and a
version that fails its checks never replaces a good one. The same thread reads TRAFFIC (the
canary and the shadow) when it changes; their versions load on their first prediction.
"""

import collections
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent import futures

from algorithm import settings
from algorithm.domain import traffic
from algorithm.domain.errors import FailedPrecondition, InvalidArgument, NotFound
from algorithm.domain.store import LoadedModel, ModelIntegrityError, ModelStore, parse_model_id
from algorithm.serving.metrics import MODEL_LOAD_SECONDS, MODEL_LOADS, MODEL_REFUSALS

logger = logging.getLogger(__name__)


class ModelRepository:
    def __init__(self, store: ModelStore, poll_seconds: float, cache_size: int):
        self.store = store
        self.poll_seconds = poll_seconds
        self.cache_size = cache_size
        self.active: LoadedModel | None = None
        self.last_refusal: str | None = None
        self._refused_id: str | None = None
        self._refresh_lock = threading.Lock()
        self._cache: collections.OrderedDict[str, LoadedModel] = collections.OrderedDict()
        # The load under way of each version: callers who want one being loaded wait for
        # that load's outcome instead of loading it again.
        self._loading: dict[str, futures.Future] = {}
        self._lock = threading.Lock()
        self._watcher_pid: int | None = None
        # Set once this process has settled on the version ACTIVE named at its start.
        self._settled = threading.Event()
        self._listeners: list[Callable[[], None]] = []
        self.traffic = traffic.NONE
        self._traffic_stamp: tuple[int, int, int] | None = None
        # Traffic versions that failed their checks at load: not tried again until TRAFFIC
        # changes, so a refused canary costs a lookup per prediction, not a load.
        self._traffic_refused: set[str] = set()

    def get(self, model_id: str = "") -> LoadedModel:
        """The model that answers a prediction: the named version, or the active one."""
        self.start()
        if model_id:
            return self._get_version(parse_model_id(model_id))
        if self.active is None:
            # Only until the first version is served: waits for a load under way, if any.
            self.refresh()
        if self.active is None:
            if self.last_refusal is None:
                self.store.require_active_id()
            raise FailedPrecondition(
                f"The active model could not be loaded ({self.last_refusal}); "
                "activate another version or train a new one."
            )
        return self.active

    def refresh(self) -> None:
        """Swap in the version ACTIVE names, if it changed and passes its checks."""
        with self._refresh_lock:
            current = self.active
            try:
                active_id = self.store.read_active_id()
            except ModelIntegrityError as error:
                if self.last_refusal != str(error):
                    logger.error(
                        "%s Still serving %s", error, current.model_id if current else "no model"
                    )
                self.last_refusal = str(error)
                self._refused_id = None
                return
            if current is not None and current.model_id == active_id:
                # ACTIVE points back at what is served (a rollback): nothing is refused now.
                self.last_refusal = self._refused_id = None
                return
            if active_id is None or active_id == self._refused_id:
                return
            try:
                loaded = self._get_version(active_id)
            except (FailedPrecondition, NotFound, InvalidArgument, OSError) as error:
                logger.error(
                    "Model %s is active but was not loaded (%s); still serving %s",
                    active_id,
                    error,
                    current.model_id if current else "no model",
                )
                self.last_refusal = str(error)
                self._refused_id = active_id
                return
            self.active = loaded
            self.last_refusal = self._refused_id = None
            logger.info("Serving model %s", active_id)

    def refresh_traffic(self) -> None:
        """Read TRAFFIC if it changed since the last look (one stat when it did not); a file
        this service did not write means no split, logged."""
        try:
            status = os.stat(self.store.root / traffic.TRAFFIC_FILE)
            stamp: tuple[int, int, int] | None = (
                status.st_ino,
                status.st_mtime_ns,
                status.st_size,
            )
        except FileNotFoundError:
            stamp = None
        if stamp == self._traffic_stamp:
            return
        try:
            current = self.store.read_traffic()
        except ModelIntegrityError as error:
            logger.error("%s; no canary or shadow until then", error)
            current = traffic.NONE
        self._traffic_refused = set()
        self.traffic, self._traffic_stamp = current, stamp
        logger.info("Traffic: %s", current.as_json())

    def traffic_model(self, model_id: str) -> LoadedModel | None:
        """A canary's or shadow's version, loaded on its first use; None if it was refused."""
        if model_id in self._traffic_refused:
            return None
        try:
            return self._get_version(model_id)
        except (FailedPrecondition, NotFound, InvalidArgument, OSError) as error:
            logger.error("Traffic names model %s, which was not loaded: %s", model_id, error)
            self._traffic_refused.add(model_id)
            return None

    def _get_version(self, model_id: str) -> LoadedModel:
        with self._lock:
            if model_id in self._cache:
                self._cache.move_to_end(model_id)
                return self._cache[model_id]
            loading = self._loading.get(model_id)
            if loading is None:
                loading = self._loading[model_id] = futures.Future()
                loads_here = True
            else:
                loads_here = False
        if not loads_here:
            return loading.result()
        try:
            loaded = self._load(model_id)
        except BaseException as error:
            loading.set_exception(error)
            raise
        else:
            loading.set_result(loaded)
            return loaded
        finally:
            with self._lock:
                del self._loading[model_id]

    def _load(self, model_id: str) -> LoadedModel:
        started = time.perf_counter()
        try:
            loaded = self.store.load(model_id)
        except ModelIntegrityError as error:
            logger.error("Refused to load model %s: %s", model_id, error)
            MODEL_LOADS.labels("refused").inc()
            MODEL_REFUSALS.labels(error.check).inc()
            raise FailedPrecondition(
                f"Model {model_id} failed its integrity checks and will not be loaded: {error}."
            ) from error
        MODEL_LOADS.labels("loaded").inc()
        MODEL_LOAD_SECONDS.observe(time.perf_counter() - started)
        with self._lock:
            self._cache[model_id] = loaded
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return loaded

    def holds(self, model_id: str) -> bool:
        """Whether the version (a model id in its canonical form) is loaded here now: in the
        cache, or the active one, which answers even once versions named since pushed it out."""
        active = self.active
        if active is not None and active.model_id == model_id:
            return True
        with self._lock:
            return model_id in self._cache

    def held(self, model_id: str) -> LoadedModel | None:
        """The version if it is loaded here now (as holds), without loading it."""
        active = self.active
        if active is not None and active.model_id == model_id:
            return active
        with self._lock:
            return self._cache.get(model_id)

    def ready(self) -> bool:
        """Whether this process has settled on the active version: loaded it, or refused it
        (then it answers with the version it had, if any). False while a first load is under
        way, so that a new replica takes no traffic before it can answer."""
        return self._settled.is_set()

    def predicting(self) -> bool:
        """Whether a version is loaded and answers predictions that name none."""
        return self.ready() and self.active is not None

    def on_refresh(self, listener: Callable[[], None]) -> None:
        """Call `listener` now and after every look at ACTIVE (its thread: the watcher's)."""
        self._listeners.append(listener)
        listener()

    def loaded_ids(self) -> set[str]:
        with self._lock:
            return set(self._cache)

    def active_id(self) -> str | None:
        active = self.active
        return active.model_id if active else None

    def start(self) -> None:
        """Start watching ACTIVE in this process (idempotent)."""
        # Threads do not survive a fork: a pre-forking server starts one per worker process.
        if self._watcher_pid == os.getpid():
            return
        with self._lock:
            if self._watcher_pid == os.getpid():
                return
            self._watcher_pid = os.getpid()
        threading.Thread(target=self._watch, name="active-model-watcher", daemon=True).start()

    def _watch(self) -> None:
        while True:
            try:
                self.refresh()
                self._settled.set()
                self.refresh_traffic()
            except Exception:
                logger.exception("Active model refresh failed; retrying")
            for listener in self._listeners:
                listener()
            time.sleep(self.poll_seconds)


model_repository = ModelRepository(
    ModelStore(), settings.ACTIVE_MODEL_POLL_SECONDS, settings.MODEL_CACHE_SIZE + 1
)
