"""`make bench`: speed of the registrations statistic and of writing users (see __main__)."""
