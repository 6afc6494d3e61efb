"""One logging setup for the algorithm processes: stdout and a file on the log volume."""

import logging
import logging.handlers

from algorithm import settings

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(process_name: str) -> None:
    settings.LOG_DIR.mkdir(parents=True, exist_ok=True)
    file_handler = logging.handlers.RotatingFileHandler(
        settings.LOG_DIR / f"{process_name}.log", maxBytes=10 << 20, backupCount=5, encoding="utf-8"
    )
    logging.basicConfig(
        level=logging.INFO, format=FORMAT, handlers=[logging.StreamHandler(), file_handler]
    )
