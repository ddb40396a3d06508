"""SOAP visit notes with test/treat/retest measures, signing and addenda."""
