// placeholder: the CLI is written in the next commits
int main()
{
	return 0;
}
