"""``python -m benchmarks [--quick] [--out DIR] [--write-docs]``, or ``python -m benchmarks
forecast ...`` / ``python -m benchmarks fleet ...``."""

import sys

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "forecast":
        from .forecast import main as forecast_main

        sys.exit(forecast_main(sys.argv[2:]))
    elif len(sys.argv) > 1 and sys.argv[1] == "fleet":
        from .fleet import main as fleet_main

        sys.exit(fleet_main(sys.argv[2:]))
    else:
        from .run import main

        sys.exit(main())
