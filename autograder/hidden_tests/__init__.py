"""Hidden tests, one module per assignment; each ``check_*`` takes the student's function(s)."""
