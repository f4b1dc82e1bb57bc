/* shared test fixtures: being written */
typedef int mt_fixtures_placeholder;
