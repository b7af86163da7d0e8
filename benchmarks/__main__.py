"""``python -m benchmarks [--quick] [--out DIR] [--write-docs]``, or ``python -m benchmarks
forecast ...`` / ``python -m benchmarks fleet ...`` / ``python -m benchmarks
forecaster-fleet ...``."""

import sys

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "forecast":
        from .forecast import main as forecast_main

        sys.exit(forecast_main(sys.argv[2:]))
    elif len(sys.argv) > 1 and sys.argv[1] == "fleet":
        from .fleet import main as fleet_main

        sys.exit(fleet_main(sys.argv[2:]))
    elif len(sys.argv) > 1 and sys.argv[1] == "forecaster-fleet":
        from .forecaster_fleet import main as forecaster_fleet_main

        sys.exit(forecaster_fleet_main(sys.argv[2:]))
    else:
        from .run import main

        sys.exit(main())
