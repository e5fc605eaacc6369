"""The areas of the case-review page, one router each (see :class:`casework.web.Area`)."""
