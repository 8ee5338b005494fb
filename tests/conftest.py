"""Shared test setup: report the largest parity errors seen in the session."""
import reference


def pytest_terminal_summary(terminalreporter):
    errors = reference.OBSERVED_ERRORS
    terminalreporter.write_line(
        "largest normalized parity error |got-ref|/max(1,max|ref|): "
        f"float32 {errors['float32']:.2e} (tolerance {reference.TOLERANCE['float32']:.0e}), "
        f"float64 {errors['float64']:.2e} (tolerance {reference.TOLERANCE['float64']:.0e})")
