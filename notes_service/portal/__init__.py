"""The patient portal: invitations, the patient's own progress in plain language, and the pain
diary."""
