"""Container health check for web: exits 0 when /api/health/ answers 200."""

import sys
import urllib.request

from common.settings import WEB_PORT


def main() -> int:
    url = f"http://127.0.0.1:{WEB_PORT}/api/health/"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except OSError as error:
        print(f"{url}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
