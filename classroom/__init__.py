"""The classroom set: student notebooks and an autograder built from the book's own notebooks.

Not part of the installed ``gan_lab`` package (students get ``gan_lab``; only teachers have this folder), so
the hidden tests in ``classroom/hidden`` never reach a student's machine.

- ``classroom.build``: ``make assignments`` -- one chapter notebook in, a student notebook and an
  otter-grader autograder out;
- ``classroom.grade``: ``make grade SUBMISSIONS=<folder>`` -- every submission graded, ``grades.csv`` and
  per-student feedback;
- ``classroom.hidden``: the tests used only for grading.
"""
