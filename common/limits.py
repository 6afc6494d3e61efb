"""Every limit on what callers send, defined once: web's serializers, the OpenAPI schema, the
algorithm service's checks, the CLI and the data-file reader all import them from here."""

from common.settings import env_int

# Characters in one text. Real documents can be longer (news articles of 25,000 characters),
# so it can be raised; web's JSON body limit (4 MiB) still bounds a request.
DEFAULT_MAX_TEXT_CHARS = 20_000
MAX_TEXT_CHARS = env_int("MAX_TEXT_CHARS", DEFAULT_MAX_TEXT_CHARS)


def is_blank(text: str) -> bool:
    """Whether a text has nothing to classify (empty, or only white space): the algorithm
    service refuses it, and web refuses it before sending it, since one refused text sends the
    whole batch it joined back to be answered text by text."""
    return not text.strip()


# The data table's label column (max_length in web's Data model and its migration).
MAX_LABEL_CHARS = 100
# A caller's own key for a prediction (`reference`), which feedback can name it by.
MAX_REFERENCE_CHARS = 200
# Who asked for a prediction, and the id of the request, as the prediction log keeps them
# (max_length in web's LoggedPrediction model and its migration).
MAX_CALLER_CHARS = 64
MAX_REQUEST_ID_CHARS = 200
# Texts in one prediction call.
MAX_BATCH_TEXTS = 1_000
# Texts one prediction call may ask to explain: an explanation costs about as much CPU again
# as the prediction (each text's features taken apart for two labels, alone, never coalesced),
# so a caller cannot make one call cost a thousand of them.
MAX_EXPLAIN_TEXTS = 100
# Terms an explanation names per label, the most EXPLAIN_TOP_TERMS may be set to.
MAX_EXPLAIN_TOP_TERMS = 100
# Labels in each list of a posted result, and rows sent with an evaluation.
MAX_RESULT_LABELS = 100_000
MAX_EVALUATION_ROWS = 100_000
# A canary's min_answers and min_feedback, and the promotion policy's min_shadow_predictions:
# the most answers, feedback or shadow predictions a check may wait for before it judges.
MAX_TRAFFIC_MIN_COUNT = 1_000_000
# One gRPC message, either way.
MAX_MESSAGE_BYTES = 16 << 20
# Monitoring schedules in the deployment, and the shortest time a schedule may leave between
# two ticks: together they bound the monitoring queue at MAX_SCHEDULES ticks per interval.
MAX_SCHEDULES = env_int("MAX_SCHEDULES", 1_000)
SCHEDULE_MIN_INTERVAL_MINUTES = env_int("SCHEDULE_MIN_INTERVAL_MINUTES", 5)
# Model versions per page: the default and the most a caller may ask for.
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1_000
# An API token's name (max_length in web's ApiToken model and its migration).
MAX_TOKEN_NAME_CHARS = 100
# Objects in one bulk create (POST /api/data/ with a list), saved in one transaction.
MAX_BULK_ITEMS = 10_000
# Log lines one GET /api/log/ returns.
MAX_LOG_LINES = 1_000

# Request bodies. Web's JSON bodies (Django's DATA_UPLOAD_MAX_MEMORY_SIZE, which web's own
# body reader and parser hold to): a bulk create of MAX_BULK_ITEMS short items fits, or about
# 200 items of full-length text.
MAX_JSON_BODY_BYTES = 4 << 20
# An import (POST /api/data/import/) is streamed, never held in memory, so it may be larger;
# sized to import well within web's gunicorn timeout (about 20,000 rows a second).
MAX_IMPORT_BYTES = 64 << 20
# A console form (web/console/): the largest is Try it's, one text of MAX_TEXT_CHARS
# characters, each up to 4 bytes of UTF-8 percent-encoded as 12, and a few short fields.
MAX_CONSOLE_FORM_BYTES = MAX_TEXT_CHARS * 12 + (16 << 10)
# One line of an imported file (CSV, TSV or JSON lines). The longest a valid row needs is a
# JSON line of MAX_TEXT_CHARS characters all written as \uXXXX escapes, about 120 KB; a
# longer line means a wrong format or a broken file, and reading it whole would hold an
# unbounded part of the upload in memory.
MAX_LINE_BYTES = 1 << 20
# A body the Flask shim reads: its largest are an evaluation's MAX_EVALUATION_ROWS rows and a
# result's MAX_RESULT_LABELS labels.
MAX_SHIM_BODY_BYTES = 32 << 20
