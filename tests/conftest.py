"""Shared test setup: report the largest parity errors seen in the session."""
import reference


def pytest_terminal_summary(terminalreporter):
    errors = reference.OBSERVED_ERRORS
    parts = [f"{name} {errors[name]:.2e} (tolerance {reference.TOLERANCE[name]:.0e})"
             if name in errors else f"{name} not compared in this run"
             for name in ("float32", "float64")]
    terminalreporter.write_line(
        "largest normalized parity error |got-ref|/max(1,max|ref|): " + ", ".join(parts))
